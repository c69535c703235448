"""The shape of the queries services send, kept where the gateway can use it without a store client."""


def one_of(field, values):
    """`field` equal to one of `values`: a plain equality when there is one value, which FerretDB
    answers from an index, where it filters an `$in` after reading every record (a grid worker's
    top node among a city's 5,460: 0.76 s)."""
    values = list(values)
    return {field: values[0]} if len(values) == 1 else {field: {"$in": values}}


def combined(*filters):
    """One filter from several, as a flat document where keys do not clash: FerretDB pushes
    plain top-level conditions down to its backend, and the filter nested in a top-level `$and`
    not at all (a count then reads every record of the collection). Where keys clash the first
    condition stays flat, so put the most selective first."""
    flat, rest = {}, []
    pending = list(filters)
    while pending:
        condition = pending.pop(0)
        for key, value in condition.items():
            if key == "$and":
                pending[0:0] = value
            elif key in flat:
                rest.append({key: value})
            else:
                flat[key] = value
    return {**flat, "$and": rest} if rest else flat
