"""Territory: communes, population, size, seat département, région (ARS) and CPL (SPEC §3, ACI art. 7.1, 12).

Facts below were read from the raw JSON of @etalab/decoupage-administratif 6.0.0, independently of the
packaged CSV files; the tests themselves only need the packaged data.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pytest

from lifecycle import calendar, territory
from lifecycle.errors import DomainError, UnknownCommunes
from lifecycle.ruleset import load_ruleset
from lifecycle.territory import Commune, Departement, Region

METZ, THIONVILLE, SAINT_DENIS_REUNION = "57463", "57672", "97411"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_communes.py"


# --- communes and population -------------------------------------------------------------------------


def test_the_packaged_file_holds_every_current_commune():
    packaged = resources.files("lifecycle.data").joinpath("communes.csv.gz").read_bytes()
    assert len(gzip.decompress(packaged).decode("utf-8").splitlines()) == 1 + 34_969


def test_metz_is_in_moselle_in_grand_est():
    assert territory.communes([METZ]) == [Commune(METZ, "Metz", "57", "44", 122_572)]


def test_saint_denis_de_la_reunion_is_in_974_region_04():
    (commune,) = territory.communes([SAINT_DENIS_REUNION])
    assert (commune.name, commune.departement, commune.region) == ("Saint-Denis", "974", "04")


def test_population_is_the_sum_of_the_communes_legal_populations():
    assert territory.population([METZ, THIONVILLE]) == 122_572 + 42_658


def test_codes_are_trimmed_and_duplicates_counted_once():
    assert territory.population([f" {METZ}\t", METZ, f"{THIONVILLE}\n"]) == 122_572 + 42_658


def test_corsican_codes_are_accepted_in_lower_case():
    assert territory.communes(["2a004"])[0].name == "Ajaccio"


def test_a_code_that_lost_its_leading_zero_in_a_spreadsheet_is_restored():
    assert territory.communes(["1001"])[0].code == "01001"


def test_a_single_string_is_read_as_a_list_of_codes():
    assert [c.code for c in territory.communes(f"{THIONVILLE}, {METZ};{METZ}")] == [METZ, THIONVILLE]


def test_all_unknown_codes_are_reported_together_sorted():
    with pytest.raises(UnknownCommunes) as caught:
        territory.communes(["99999", METZ, "00000", "99999"])
    assert caught.value.codes == ["00000", "99999"]
    assert "00000, 99999" in str(caught.value)


def test_former_communes_and_municipal_arrondissements_are_not_current_communes():
    # 57023 Angviller-lès-Bisping is a commune associée; 75112 is Paris's 12th arrondissement.
    with pytest.raises(UnknownCommunes) as caught:
        territory.communes(["57023", "75112"])
    assert caught.value.codes == ["57023", "75112"]


# --- size and summary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "size"),
    [(39_999, 1), (40_000, 2), (79_999, 2), (80_000, 2), (80_001, 3), (174_999, 3), (175_000, 3), (175_001, 4)],
)
def test_size_bands_follow_aci_article_7_1(declared, size):
    assert territory.summarise([METZ], declared_population=declared).size == size


def test_a_declared_population_wins_over_the_communes_sum():
    summary = territory.summarise([METZ, THIONVILLE], declared_population=30_000)
    assert (summary.population, summary.size, summary.communes_population) == (30_000, 1, 165_230)


def test_without_a_declaration_the_size_comes_from_the_communes_sum():
    summary = territory.summarise([METZ, THIONVILLE])
    assert (summary.population, summary.size) == (165_230, 3)


def test_a_given_ruleset_is_used_for_the_size():
    assert territory.summarise([METZ], ruleset=load_ruleset()).size == 3


def test_a_negative_declared_population_is_refused():
    with pytest.raises(DomainError, match="declared population"):
        territory.summarise([METZ], declared_population=-1)


def test_the_summary_lists_departements_and_regions_with_their_names():
    summary = territory.summarise([SAINT_DENIS_REUNION, METZ, THIONVILLE])
    assert summary.departements == ("57", "974")
    assert summary.regions == ("04", "44")
    assert summary.as_dict() == {
        "population": 122_572 + 42_658 + 155_634,
        "communes_population": 122_572 + 42_658 + 155_634,
        "size": 4,
        "communes": 3,
        "departements": [{"code": "57", "name": "Moselle"}, {"code": "974", "name": "La Réunion"}],
        "regions": [{"code": "04", "name": "La Réunion"}, {"code": "44", "name": "Grand Est"}],
    }
    json.dumps(summary.as_dict())


# --- seat: département, région, CPL, calendar --------------------------------------------------------


def test_departement_and_region_of_a_seat():
    assert territory.departement("57") == Departement("57", "Moselle", "44")
    assert territory.region_of("57") == Region("44", "Grand Est")
    assert territory.region_of("974") == Region("04", "La Réunion")
    assert territory.region_of("2A") == Region("94", "Corse")


def test_departement_codes_are_normalised():
    assert territory.departement(" 1 ").code == "01"
    assert territory.departement("2b").name == "Haute-Corse"


@pytest.mark.parametrize("code", ["20", "99", "abc", ""])
def test_an_unknown_departement_is_a_domain_error(code):
    with pytest.raises(territory.UnknownDepartement, match="unknown département"):
        territory.region_of(code)


def test_a_collectivite_d_outre_mer_cannot_seat_a_cpts():
    with pytest.raises(territory.UnknownDepartement, match="Saint-Pierre-et-Miquelon"):
        territory.departement("975")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("57", "CPL de la Moselle"),
        ("59", "CPL du Nord"),
        ("01", "CPL de l'Ain"),
        ("88", "CPL des Vosges"),
        ("75", "CPL de Paris"),
        ("28", "CPL d'Eure-et-Loir"),
        ("974", "commission paritaire territoriale de La Réunion"),
        ("971", "commission paritaire territoriale de la Guadeloupe"),
    ],
)
def test_cpl_name_uses_the_french_article(code, name):
    assert territory.cpl_name(code) == name


def test_time_zone_and_holidays_are_those_of_the_calendar():
    assert territory.time_zone is calendar.time_zone
    assert territory.holiday_subdivision is calendar.holiday_subdivision
    assert str(territory.time_zone("974")) == "Indian/Reunion"
    assert territory.holiday_subdivision("57") == "57"


# --- overlap -----------------------------------------------------------------------------------------


def test_overlap_lists_the_common_communes_sorted():
    assert territory.overlap([THIONVILLE, METZ, "57480"], [" 57480", METZ, "59350"]) == ["57463", "57480"]


def test_disjoint_territories_do_not_overlap():
    assert territory.overlap([METZ], [THIONVILLE]) == []


# --- the build script --------------------------------------------------------------------------------


def _build_module():
    spec = importlib.util.spec_from_file_location("build_communes", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_script_keeps_current_communes_and_is_deterministic(tmp_path):
    source = tmp_path / "data"
    source.mkdir()
    raw_communes = [
        {
            "code": "57463",
            "nom": "Metz",
            "departement": "57",
            "region": "44",
            "type": "commune-actuelle",
            "population": 122572,
        },
        {
            "code": "57023",
            "nom": "Angviller-lès-Bisping",
            "departement": "57",
            "region": "44",
            "type": "commune-associee",
        },
        {
            "code": "01001",
            "nom": "L'Abergement-Clémenciat",
            "departement": "01",
            "region": "84",
            "type": "commune-actuelle",
        },
    ]
    (source / "communes.json").write_text(json.dumps(raw_communes), encoding="utf-8")
    (source / "departements.json").write_text(
        json.dumps([{"code": "57", "nom": "Moselle", "region": "44", "typeLiaison": 3}]), encoding="utf-8"
    )
    (source / "regions.json").write_text(json.dumps([{"code": "44", "nom": "Grand Est"}]), encoding="utf-8")
    build = _build_module().build

    build(source, tmp_path / "one")
    build(source, tmp_path / "two")

    first = (tmp_path / "one" / "communes.csv.gz").read_bytes()
    assert first == (tmp_path / "two" / "communes.csv.gz").read_bytes()
    assert gzip.decompress(first).decode("utf-8").splitlines() == [
        "code,name,departement,region,population",
        "01001,L'Abergement-Clémenciat,01,84,0",
        "57463,Metz,57,44,122572",
    ]
    assert (tmp_path / "one" / "departements.csv").read_text(encoding="utf-8") == (
        "code,name,region,type_liaison\n57,Moselle,44,3\n"
    )
