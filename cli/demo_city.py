"""A synthetic community for the demo seed, of any size, the same every time it is generated.

The real size is the community in shared/DOMAIN.md: 10 grids, 86 buildings, 2,911 households,
6,812 people. Buildings are mostly six-storey walk-ups with a few towers; about one flat in
eleven stands vacant and a fifth of the occupied ones are rented. Households are made from
family templates (a couple and their child, three generations, an elderly widow living alone,
young people sharing a rented flat...), ages follow from the relations, and tags from the ages
and the household, in the proportions field reports give. Names and phone numbers come from
Faker's zh_CN locale; national ID numbers carry the person's birth date, sex and check digit.

Everything is drawn from generators seeded with fixed numbers and ages are counted at a fixed
census day, so the same size always gives the same rows: the bulk import keys every resident by
the row's content, and re-seeding finds the people already there instead of adding them again.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta
import random

from faker import Faker
from faker.providers.ssn.zh_CN import Provider as ChineseIdProvider

from services.residents.pii import check_phone, with_check_digit
from services.residents.schemas import SENSITIVE_TAGS

# Any fixed number; another one gives another city, which a re-seed would add beside this one.
SEED = 20241101
# Ages, and so the age tags, are as of this day rather than today, so the rows never drift.
CENSUS_DAY = date(2026, 1, 1)


@dataclass(frozen=True)
class CommunitySize:
    community: str
    grids: int
    buildings: int
    households: int
    people: int


REAL = CommunitySize("柳荫社区", grids=10, buildings=86, households=2911, people=6812)
SMALL = CommunitySize("杏林社区", grids=3, buildings=4, households=30, people=70)

# (storeys, flats per landing, weight): an older community is mostly six-storey walk-ups.
BUILDING_KINDS = ((6, 2, 60), (7, 2, 15), (11, 2, 15), (18, 2, 10))
VACANCY = 0.09
RENTED_SHARE = 0.22
HOUSEHOLD_SIZE_WEIGHTS = {1: 27, 2: 35, 3: 22, 4: 9, 5: 5, 6: 2}
# Relations to the head, by household size, with weights. "tenant" households share a rented flat.
FAMILY_TEMPLATES = {
    1: {("head",): 1},
    2: {("head", "spouse"): 70, ("head", "child"): 15, ("head", "parent"): 8, ("head", "tenant"): 7},
    3: {("head", "spouse", "child"): 75, ("head", "spouse", "parent"): 10, ("head", "child", "child"): 8,
        ("head", "tenant", "tenant"): 7},
    4: {("head", "spouse", "child", "child"): 40, ("head", "spouse", "child", "parent"): 40,
        ("head", "spouse", "child", "grandchild"): 20},
    5: {("head", "spouse", "child", "parent", "parent"): 50, ("head", "spouse", "child", "child", "parent"): 20,
        ("head", "spouse", "child", "in_law", "grandchild"): 30},
    6: {("head", "spouse", "child", "child", "parent", "parent"): 55,
        ("head", "spouse", "child", "in_law", "grandchild", "grandchild"): 45},
}
ELDERLY_AGE = 60  # "elderly" in DOMAIN.md
ADULT_AGE = 18  # "child" means a minor
CHILDBEARING_AGES = range(15, 50)  # the statistical definition of women of childbearing age
ELDERLY_SHARE_ALONE_OR_COUPLE = 0.4
SPECIAL_SERVICE_FAMILY_SHARE = 0.03
LOCAL_BIRTHPLACE_SHARE = 0.8


@dataclass
class Flat:
    building: int
    unit: str
    floor: int
    number: str
    occupancy: str = "VACANT"


@dataclass
class Person:
    name: str
    relation: str
    gender: str
    birth_date: date
    national_id: str = ""
    phone: str = ""
    tags: list = field(default_factory=list)

    @property
    def age(self):
        return age_on(self.birth_date, CENSUS_DAY)


@dataclass
class Household:
    flat: Flat
    name: str
    members: list


@dataclass
class DemoCommunity:
    size: CommunitySize
    grid_of_building: list
    flats: list
    households: list

    @property
    def vacant_flats(self):
        return [flat for flat in self.flats if flat.occupancy == "VACANT"]

    @property
    def people(self):
        return [person for household in self.households for person in household.members]

    def import_rows(self, building_ids, with_sensitive_tags):
        """ImportResidents rows, numbered from 1; `building_ids[i]` is building i's node id."""
        rows = []
        for household in self.households:
            flat = household.flat
            for person in household.members:
                tags = [tag for tag in person.tags if with_sensitive_tags or tag not in SENSITIVE_TAGS]
                row = {"row": len(rows) + 1, "building": building_ids[flat.building], "unit": flat.unit,
                       "floor": flat.floor, "flat": flat.number, "occupancy": flat.occupancy,
                       "household": household.name, "name": person.name, "relation": person.relation,
                       "birth_date": person.birth_date.isoformat(), "gender": person.gender,
                       "national_id": person.national_id, "tags": tags}
                rows.append(row | ({"phone": person.phone} if person.phone else {}))
        return rows


def generate(size=REAL, seed=SEED):
    if not size.households <= size.people <= 6 * size.households:
        raise ValueError("people must be between one and six per household")
    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    flats = building_flats(rng, size)
    occupied = sorted(rng.sample(range(len(flats)), size.households))
    for index in occupied:
        flats[index].occupancy = "RENTED" if rng.random() < RENTED_SHARE else "OWNER_OCCUPIED"
    people = PeopleMaker(rng, fake)
    households = [people.household(flats[index], household_size)
                  for index, household_size in zip(occupied, household_sizes(rng, size))]
    grid_of_building = [building * size.grids // size.buildings for building in range(size.buildings)]
    return DemoCommunity(size, grid_of_building, flats, households)


def building_flats(rng, size):
    """Every flat of every building, by building, unit, floor and number (301 = floor 3, flat 1),
    with room for the households and about VACANCY of the flats left empty."""
    flats_wanted = round(size.households / (1 - VACANCY))
    layouts = [building_layout(rng, flats_wanted / size.buildings) for _ in range(size.buildings)]
    fit_units(layouts, flats_wanted, size.households)
    return [Flat(building, str(unit), floor, f"{floor}{position:02d}")
            for building, layout in enumerate(layouts)
            for unit in range(1, layout.units + 1)
            for floor in range(1, layout.storeys + 1)
            for position in range(1, layout.flats_per_landing + 1)]


@dataclass
class BuildingLayout:
    storeys: int
    flats_per_landing: int
    units: int

    @property
    def flats_per_unit(self):
        return self.storeys * self.flats_per_landing

    @property
    def flat_count(self):
        return self.flats_per_unit * self.units


def building_layout(rng, flats_wanted):
    """A kind no taller than the community needs, with as many units (stairwells) as bring it
    near `flats_wanted`, give or take a third."""
    kinds = [kind for kind in BUILDING_KINDS if kind[0] * kind[1] <= 1.5 * flats_wanted]
    if not kinds:
        return BuildingLayout(max(1, round(flats_wanted / 2)), 2, 1)
    storeys, per_landing, _ = rng.choices(kinds, weights=[kind[2] for kind in kinds])[0]
    units = max(1, round(flats_wanted * rng.uniform(0.7, 1.3) / (storeys * per_landing)))
    return BuildingLayout(storeys, per_landing, units)


def fit_units(layouts, flats_wanted, households):
    """Drawn layouts miss the total: takes units off the biggest buildings while the total stays
    at least `flats_wanted`, then adds units to the smallest until every household has a flat."""
    def total():
        return sum(layout.flat_count for layout in layouts)

    while removable := [layout for layout in layouts
                        if layout.units > 1 and layout.flats_per_unit <= total() - flats_wanted]:
        max(removable, key=lambda layout: layout.flat_count).units -= 1
    while total() < households:
        min(layouts, key=lambda layout: layout.flat_count).units += 1


def household_sizes(rng, size):
    """Sizes drawn from HOUSEHOLD_SIZE_WEIGHTS, then nudged one person at a time to the exact total."""
    choices, weights = zip(*HOUSEHOLD_SIZE_WEIGHTS.items())
    sizes = rng.choices(choices, weights=weights, k=size.households)
    while sum(sizes) != size.people:
        step = 1 if sum(sizes) < size.people else -1
        index = rng.randrange(len(sizes))
        if 1 <= sizes[index] + step <= max(choices):
            sizes[index] += step
    return sizes


class PeopleMaker:
    """Households of one flat each: members, ages from their relations, names, IDs, phones, tags."""

    def __init__(self, rng, fake):
        self.rng = rng
        self.fake = fake
        county_codes = [code for code in ChineseIdProvider.area_codes if not code.endswith("00")]
        prefecture = rng.choice(county_codes)[:4]
        self.local_codes = [code for code in county_codes if code.startswith(prefecture)]
        self.all_codes = county_codes
        self.national_ids = set()

    def household(self, flat, household_size):
        templates = {relations: weight for relations, weight in FAMILY_TEMPLATES[household_size].items()
                     if flat.occupancy == "RENTED" or "tenant" not in relations}
        relations = self.rng.choices(list(templates), weights=list(templates.values()))[0]
        members = self.members(relations, flat.occupancy == "RENTED")
        household_tags(self.rng, members)
        return Household(flat, f"{members[0].name}家", members)

    def members(self, relations, rented):
        """The head, then each relative with an age and sex that fit the relation."""
        head_age = self.rng.randint(*head_age_range(self.rng, relations, rented))
        surname = self.fake.last_name()
        members = [self.person(surname, "head", self.head_gender(relations, head_age), head_age)]
        for relation in relations[1:]:
            members.append(self.person(*self.relative(relation, members, surname)))
        return members

    def relative(self, relation, members, surname):
        """(surname, relation, gender, age) of the head's relative: children and grandchildren
        take the family name, spouses and in-laws keep their own, as Chinese women do."""
        rng, head = self.rng, members[0]
        if relation == "spouse":
            return self.fake.last_name(), relation, opposite(head.gender), max(20, head.age + rng.randint(-6, 4))
        if relation == "child":
            age = head.age - rng.randint(22, min(36, head.age))
            return surname, relation, self.any_gender(), age
        if relation == "parent":
            return self.parent(members, surname)
        if relation in ("in_law", "grandchild"):
            child = next(member for member in reversed(members) if member.relation == "child")
            if relation == "in_law":
                return self.fake.last_name(), relation, self.any_gender(), max(20, child.age + rng.randint(-3, 3))
            return surname, relation, self.any_gender(), max(0, child.age - rng.randint(22, 34))
        return self.fake.last_name(), relation, self.any_gender(), rng.randint(20, 40)

    def parent(self, members, surname):
        """A widowed mother more often than a father; the father has the family name."""
        father_there = any(member.relation == "parent" and member.gender == "MALE" for member in members)
        gender = "FEMALE" if father_there or self.rng.random() < 0.65 else "MALE"
        parent_surname = surname if gender == "MALE" else self.fake.last_name()
        return parent_surname, "parent", gender, min(100, members[0].age + self.rng.randint(22, 34))

    def head_gender(self, relations, head_age):
        if len(relations) == 1 and head_age >= ELDERLY_AGE:
            return "FEMALE" if self.rng.random() < 0.7 else "MALE"  # widows outlive widowers
        if "spouse" in relations:
            return "MALE" if self.rng.random() < 0.7 else "FEMALE"
        return self.any_gender()

    def any_gender(self):
        return self.rng.choice(("FEMALE", "MALE"))

    def person(self, surname, relation, gender, age):
        born = CENSUS_DAY - timedelta(days=round(age * 365.25) + self.rng.randrange(365))
        given = self.fake.first_name_male() if gender == "MALE" else self.fake.first_name_female()
        person = Person(surname + given, relation, gender, born)
        person.national_id = self.national_id(born, gender)
        person.phone = self.phone(person.age)
        return person

    def national_id(self, born, gender):
        """Area of birth (mostly this city), birth date, a sequence whose last digit is odd for
        men and even for women, and the check digit; never one already given out."""
        while True:
            codes = self.local_codes if self.rng.random() < LOCAL_BIRTHPLACE_SHARE else self.all_codes
            sequence = self.rng.randrange(100) * 10 + self.rng.randrange(1 if gender == "MALE" else 0, 10, 2)
            national_id = with_check_digit(f"{self.rng.choice(codes)}{born:%Y%m%d}{sequence:03d}")
            if national_id not in self.national_ids:
                self.national_ids.add(national_id)
                return national_id

    def phone(self, age):
        """Young children have none; some of the very old only the family's. A drawn number the
        registry refuses (Faker's 149 numbers, data-only lines to phonenumbers) is left out, not
        drawn again: another draw would change every name and number drawn after it."""
        if age < 12 or (age >= 80 and self.rng.random() < 0.3):
            return ""
        drawn = self.fake.unique.phone_number()
        try:
            return check_phone(drawn)
        except ValueError:
            return ""


def head_age_range(rng, relations, rented):
    if "grandchild" in relations:
        return 58, 82
    if "parent" in relations:
        return 28, 55
    if "child" in relations:
        return 25, 58
    if "tenant" in relations or rented:
        return 20, 42
    # Someone alone or a couple in a flat they own: often elderly, whose children have moved out.
    return (ELDERLY_AGE, 92) if rng.random() < ELDERLY_SHARE_ALONE_OR_COUPLE else (22, 59)


def grid_name(grid):
    return f"第{grid + 1}网格"


def building_name(building):
    return f"{building + 1}号楼"


def opposite(gender):
    return "FEMALE" if gender == "MALE" else "MALE"


def age_on(born, day):
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def household_tags(rng, members):
    """The tags of DOMAIN.md's service populations, in about the shares field reports give."""
    all_elderly = all(member.age >= ELDERLY_AGE for member in members)
    special_service_family = all_elderly and rng.random() < SPECIAL_SERVICE_FAMILY_SHARE
    for member in members:
        member.tags = sorted(person_tags(rng, member, len(members), all_elderly)
                             + (["special_service_family"] if special_service_family else []))


def person_tags(rng, person, household_size, all_elderly):
    age, female = person.age, person.gender == "FEMALE"
    tags = []
    if age >= ELDERLY_AGE:
        tags.append("elderly")
        if household_size == 1:
            tags.append("living_alone")
        elif all_elderly:
            tags.append("empty_nest")
    if age < ADULT_AGE:
        tags.append("child")
    if female and age in CHILDBEARING_AGES:
        tags.append("childbearing_age_woman")
    for tag, share in drawn_tag_shares(age, female):
        if rng.random() < share:
            tags.append(tag)
    return tags


def drawn_tag_shares(age, female):
    """(tag, chance) for the tags that are not a matter of age and household alone. Sensitive
    ones are drawn whether or not the seed may set them, so the rest of the city is the same."""
    adult_of_working_age = ADULT_AGE <= age < ELDERLY_AGE
    return (
        ("fully_vaccinated", 0.88 if age >= 3 else 0),
        ("veteran", 0 if age < 35 else 0.005 if female else 0.06),
        ("disabled", 0.06 if age >= ELDERLY_AGE else 0.02),
        ("mental_disability", 0.004 if age >= ADULT_AGE else 0),
        ("community_correction", 0.0006 if adult_of_working_age else 0),
        ("resettlement", 0.0006 if adult_of_working_age else 0),
    )
