-- Lets PostgreSQL answer FerretDB's filters from an index.
--
-- FerretDB v1 (PostgreSQL backend) turns an equality filter `{field: value}` into
-- `(_jsonb -> 'field') @> 'value'`, and `createIndex` into a btree index on `(_jsonb -> 'field')`.
-- A btree index cannot serve `@>`, so every find, `_id` included, reads the whole table (a
-- find_one by `_id` among 100,000 documents: 67 ms). For each btree index FerretDB creates, this
-- event trigger creates its twin: a GIN index on the same expressions (jsonb_path_ops serves `@>`,
-- a value in an array included), so the same find takes about 1 ms. MongoDB uses the services'
-- indexes as they are; nothing here is needed there, and the services do not know of it.
SET client_min_messages = warning;

CREATE OR REPLACE FUNCTION civicgrid_gin_twin(btree regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  index_row pg_index;
  expressions text;
  twin text;
BEGIN
  SELECT * INTO index_row FROM pg_index WHERE indexrelid = btree;
  IF pg_get_indexdef(btree) NOT LIKE '% USING btree %_jsonb -> %' THEN
    RETURN;
  END IF;
  SELECT string_agg(pg_get_indexdef(btree, column_number, true) || ' jsonb_path_ops', ', ')
    INTO expressions FROM generate_series(1, index_row.indnatts) AS column_number;
  twin := left((SELECT relname FROM pg_class WHERE oid = btree), 59) || '_gin';
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s)',
                 twin, index_row.indrelid::regclass, expressions);
  -- A btree keeps a whole array as one key, and a record's list keys (services/storage/listings.py)
  -- outgrow a btree row (2,704 bytes): inserts would fail. Only the GIN twin is kept for them.
  IF pg_get_indexdef(btree) LIKE '%(_jsonb -> ''listed_in''::text)%' THEN
    EXECUTE format('DROP INDEX %s', btree);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION civicgrid_gin_twins_of_new_indexes() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  created record;
BEGIN
  FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                 WHERE command_tag = 'CREATE INDEX' AND object_type = 'index' LOOP
    PERFORM civicgrid_gin_twin(created.objid::regclass);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS civicgrid_gin_twins;
CREATE EVENT TRIGGER civicgrid_gin_twins ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION civicgrid_gin_twins_of_new_indexes();

-- Indexes FerretDB created before this trigger existed.
DO $$
BEGIN
  PERFORM civicgrid_gin_twin(indexrelid::regclass) FROM pg_index
     JOIN pg_class ON pg_class.oid = pg_index.indexrelid
     JOIN pg_namespace ON pg_namespace.oid = pg_class.relnamespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND pg_class.relname NOT LIKE '%_gin';
END $$;
