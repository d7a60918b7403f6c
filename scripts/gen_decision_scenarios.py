#!/usr/bin/env python3
"""Writes testdata/decisions/*.json: one decision scenario per file, with the expected
decision, the rule ids that must fire, the CFR section that justifies the outcome
(`cite`) and what its text says (`basis`). `expect.cites`, where present, maps a rule id
to a section its citation must contain.

The files are the data; this script only saves typing. Edit a scenario here and rerun,
or edit the JSON directly: the tests read the JSON.
"""
import json, os

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata", "decisions")
T = "2026-11-22T10:00:00Z"
ITAR11 = {"jurisdiction": "ITAR", "usml_category": "XI"}
EAR = lambda e: {"jurisdiction": "EAR", "eccn": e}
EAR99 = {"jurisdiction": "EAR99"}
PUBLIC = {"jurisdiction": "PUBLIC"}


def auth(id, type, countries, cats=(), eccns=(), valid_from="2025-01-01", expires="2027-12-31", exemption=None):
    a = {"id": id, "type": type, "countries": list(countries), "usml_categories": list(cats),
         "eccns": list(eccns), "valid_from": valid_from, "expires": expires}
    if exemption:
        a["exemption"] = exemption
    return a


def person(status, cits, auths=(), res=None, id="p1", former=()):
    p = {"id": id, "person_status": status, "citizenships": list(cits), "authorizations": list(auths)}
    if res:
        p["permanent_residence"] = res
    if former:
        p["former_citizenships"] = list(former)
    return p


def req(principal, action="read", src="US", label=ITAR11, e2e=True, storage="US", classified=None, time=T):
    r = {"principal": principal, "action": action, "context": {"source_country": src, "time": time},
         "resource": {"end_to_end_encrypted": e2e, "storage_country": storage}}
    if label is not None:
        r["resource"]["label"] = label
    if classified is not None:
        r["resource"]["classified"] = classified
    return r


S = []


def sc(name, cite, request, decision, rules, used=None, why="", basis=None, cites=None):
    expect = {"decision": decision, "rules": rules, "authorization_used": used}
    if cites:
        expect["cites"] = cites
    S.append({"name": name, "description": why, "cite": cite, "basis": basis or cite, "request": request,
              "expect": expect})


US = lambda *a, **k: person("us_citizen", ["US"], *a, **k)
B9 = lambda c, **k: auth("EX-B9", "exemption", c, exemption="125.4(b)(9)", **k)

# US persons in the US: not an export.
sc("us-citizen-in-us-itar", "22 CFR 120.50(a); 120.62", req(US()), "allow", ["us-person-in-us"])
sc("us-national-in-us-itar", "22 CFR 120.62", req(person("us_national", ["US"])), "allow", ["us-person-in-us"])
sc("permanent-resident-cn-in-us", "22 CFR 120.62 (lawful permanent resident is a US person)", req(person("permanent_resident", ["CN"])), "allow", ["us-person-in-us"])
sc("permanent-resident-ir-in-us", "22 CFR 120.62", req(person("permanent_resident", ["IR"])), "allow", ["us-person-in-us"])
sc("protected-individual-in-us", "22 CFR 120.62; 8 U.S.C. 1324b(a)(3)", req(person("protected_individual", ["SY"])), "allow", ["us-person-in-us"])
sc("dual-national-us-cn-in-us", "22 CFR 120.62 (a US citizen with another citizenship is a US person)", req(person("us_citizen", ["US", "CN"])), "allow", ["us-person-in-us"])
sc("dual-national-us-ir-in-us-ear", "15 CFR 734.13(b)", req(person("us_citizen", ["US", "IR"]), label=EAR("9E003")), "allow", ["us-person-in-us"])
sc("us-citizen-in-us-ear-eccn", "15 CFR 734.13(b) (deemed exports concern foreign persons only)", req(US(), label=EAR("3A001.a.1")), "allow", ["us-person-in-us"])

# US persons abroad: decrypting outside the US is an export.
sc("us-citizen-in-gb-no-auth", "22 CFR 120.50(a)(6); 120.56(a)(4)", req(US(), src="GB"), "deny", ["us-person-abroad-unauthorized"])
sc("us-citizen-in-gb-125-4-b-9", "22 CFR 125.4(b)(9)", req(US([B9(["GB"])]), src="GB"), "allow", ["us-person-abroad-authorized"], "EX-B9")
sc("us-citizen-in-de-b9-covers-gb-only", "22 CFR 125.4(b)(9)", req(US([B9(["GB"])]), src="DE"), "deny", ["us-person-abroad-unauthorized"])
sc("us-citizen-in-cn-b9-names-cn", "22 CFR 126.1(a); 125.4(a)", req(US([B9(["CN"])]), src="CN"), "deny", ["located-in-proscribed-country"])
sc("us-citizen-in-ru", "22 CFR 126.1(a) (Russia listed from 2021-03-18)", req(US([B9(["RU"])]), src="RU"), "deny", ["located-in-proscribed-country"])
sc("us-citizen-in-hk-follows-cn", "22 CFR 126.1(d)(1) (Hong Kong treated as the PRC)", req(US([B9(["HK"])]), src="HK"), "deny", ["located-in-proscribed-country"])
sc("us-citizen-in-gb-ear-no-license", "15 CFR 734.15(b)", req(US(), src="GB", label=EAR("9E003")), "deny", ["us-person-abroad-unauthorized"])
sc("us-citizen-in-gb-ear-license", "15 CFR 734.15(b); 750.7", req(US([auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])]), src="GB", label=EAR("9E003")), "allow", ["us-person-abroad-authorized"], "BIS-1")
sc("us-citizen-in-gb-b9-expired", "22 CFR 125.4(b)(9); validity at request time", req(US([B9(["GB"], expires="2026-06-30")]), src="GB"), "deny", ["us-person-abroad-unauthorized"])
sc("permanent-resident-in-fr-dsp5", "22 CFR 120.56(a)(4); 123.1", req(person("permanent_resident", ["IN"], [auth("DSP5-FR", "DSP-5", ["FR"], ["XI"])]), src="FR"), "allow", ["us-person-abroad-authorized"], "DSP5-FR")
sc("us-citizen-in-kh-after-removal", "22 CFR 126.1 (Cambodia removed 2025-11-07)", req(US([B9(["KH"])]), src="KH"), "allow", ["us-person-abroad-authorized"], "EX-B9")
sc("us-citizen-in-kh-while-listed", "22 CFR 126.1(o) (Cambodia listed 2021-12-09 to 2025-11-07)", req(US([B9(["KH"])]), src="KH", time="2025-06-01T00:00:00Z"), "deny", ["located-in-proscribed-country"])
sc("us-citizen-in-cy-suspended", "22 CFR 126.1(r) (Cyprus suspended 2025-10-01 to 2026-09-30)", req(US([B9(["CY"])]), src="CY", time="2026-01-15T00:00:00Z"), "allow", ["us-person-abroad-authorized"], "EX-B9")
sc("us-citizen-in-cy-after-suspension", "22 CFR 126.1(r) (no renewal recorded after 2026-09-30)", req(US([B9(["CY"])]), src="CY"), "deny", ["located-in-proscribed-country"])
sc("us-citizen-in-ni-before-listing", "22 CFR 126.1(p) (Nicaragua listed 2024-03-15)", req(US([B9(["NI"], valid_from="2020-01-01")]), src="NI", time="2024-03-14T12:00:00Z"), "allow", ["us-person-abroad-authorized"], "EX-B9")
sc("us-citizen-in-ni-after-listing", "22 CFR 126.1(p)", req(US([B9(["NI"], valid_from="2020-01-01")]), src="NI", time="2024-03-15T12:00:00Z"), "deny", ["located-in-proscribed-country"])

# Foreign persons: a release anywhere needs an authorization (deemed export in the US).
GB = lambda *a, **k: person("foreign_person", ["GB"], *a, **k)
D5 = lambda c=("GB",), cats=("XI",), **k: auth("DSP5-123456", "DSP-5", c, cats, **k)
sc("foreign-gb-in-us-no-auth", "22 CFR 120.50(a)(2); 120.56(a)(2)", req(GB()), "deny", ["deemed-export-foreign-person"])
sc("spec-example-gb-dsp5", "22 CFR 120.56(a)(2); 123.1(a)(1)", req(GB([D5(valid_from="2025-01-01", expires="2027-01-01")])), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("foreign-gb-dsp5-wrong-category", "22 CFR 120.56(a)(2)", req(GB([D5(cats=["XII"])])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-dsp5-expired", "22 CFR 120.56(a)(2); authorization judged at request time", req(GB([D5(expires="2026-11-21")])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-dsp5-expires-today", "authorization valid through its expiry date", req(GB([D5(expires="2026-11-22")])), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("foreign-gb-dsp5-not-yet-valid", "22 CFR 120.56(a)(2)", req(GB([D5(valid_from="2027-01-01", expires="2029-01-01")])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-dsp5-wrong-country", "22 CFR 120.50(b)", req(GB([D5(c=["FR"])])), "deny", ["deemed-export-foreign-person"])
sc("dual-gb-fr-dsp5-gb-only", "22 CFR 120.50(b) (every citizenship is attributed)", req(person("foreign_person", ["GB", "FR"], [D5()])), "deny", ["deemed-export-foreign-person"])
sc("dual-gb-fr-dsp5-both", "22 CFR 120.50(b)", req(person("foreign_person", ["GB", "FR"], [D5(c=["GB", "FR"])])), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("gb-resident-de-dsp5-gb-only", "22 CFR 120.50(b) (permanent residence is attributed)", req(person("foreign_person", ["GB"], [D5()], res="DE")), "deny", ["deemed-export-foreign-person"])
sc("gb-resident-de-dsp5-both", "22 CFR 120.50(b)", req(person("foreign_person", ["GB"], [D5(c=["GB", "DE"])], res="DE")), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("foreign-cn-in-us-no-auth", "22 CFR 126.1(a); 120.56(a)(2)", req(person("foreign_person", ["CN"])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])
sc("foreign-cn-dsp5-names-cn", "22 CFR 126.1 (an authorization naming the country explicitly)", req(person("foreign_person", ["CN"], [D5(c=["CN"])])), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("foreign-cn-126-18-inside-us", "22 CFR 126.18 (not for releases inside the US)", req(person("foreign_person", ["CN"], [auth("EX-12618", "exemption", ["CN"], ["XI"], exemption="126.18")])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])
sc("foreign-gb-in-de-dsp5-gb-only", "22 CFR 120.51 (reexport: the location must be covered)", req(GB([D5()]), src="DE"), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-in-de-dsp5-gb-de", "22 CFR 120.51; 123.1", req(GB([D5(c=["GB", "DE"])]), src="DE"), "allow", ["foreign-person-authorized"], "DSP5-123456")
sc("foreign-gb-in-cn-dsp5-names-cn", "22 CFR 126.1(a); 125.4(a)", req(GB([D5(c=["GB", "CN"])]), src="CN"), "deny", ["located-in-proscribed-country"])
sc("foreign-gb-taa", "22 CFR 124.1", req(GB([auth("TAA-1", "TAA", ["GB"], ["XI"])])), "allow", ["foreign-person-authorized"], "TAA-1")
sc("foreign-gb-mla", "22 CFR 124.1", req(GB([auth("MLA-1", "MLA", ["GB"], ["XI"])])), "allow", ["foreign-person-authorized"], "MLA-1")
sc("foreign-gb-wda", "22 CFR 124.1", req(GB([auth("WDA-1", "WDA", ["GB"], ["XI"])])), "allow", ["foreign-person-authorized"], "WDA-1")
sc("foreign-gb-dsp73", "22 CFR 123.5; 125.2", req(GB([auth("DSP73-1", "DSP-73", ["GB"], ["XI"])])), "deny", ["deemed-export-foreign-person"],
   why="changed for issue 15: a DSP-73 is a temporary hardware license and releases no technical data",
   basis="22 CFR 123.5: a DSP-73 licenses the temporary export of unclassified defense articles (hardware); 22 CFR 125.2: the export of unclassified technical data needs a DSP-5 (or an agreement under part 124)")
sc("foreign-gb-dsp61-not-a-release", "22 CFR 123.3 (temporary import)", req(GB([auth("DSP61-1", "DSP-61", ["GB"], ["XI"])])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-dsp85-classified-only", "22 CFR 125.3", req(GB([auth("DSP85-1", "DSP-85", ["GB"], ["XI"])])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-ear-license-for-itar", "22 CFR 120.56(a)(2) (EAR authorizations do not cover ITAR data)", req(GB([auth("BIS-1", "EAR-license", ["GB"], ["XI"], ["9E003"])])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-b9-not-for-foreign-persons", "22 CFR 125.4(b)(9)", req(GB([auth("EX-B9", "exemption", ["GB"], ["XI"], exemption="125.4(b)(9)")])), "deny", ["deemed-export-foreign-person"])
sc("foreign-gb-125-4-b-2", "22 CFR 125.4(b)(2)", req(GB([auth("EX-B2", "exemption", ["GB"], ["XI"], exemption="125.4(b)(2)")])), "allow", ["foreign-person-authorized"], "EX-B2")
sc("foreign-gb-126-18-abroad", "22 CFR 126.18", req(GB([auth("EX-12618", "exemption", ["GB"], ["XI"], exemption="126.18")]), src="GB"), "allow", ["foreign-person-authorized"], "EX-12618")
sc("dual-gb-cn-126-18-abroad-names-cn", "22 CFR 126.18; 126.1(a); 125.4(a)", req(person("foreign_person", ["GB", "CN"], [auth("EX-12618", "exemption", ["GB", "CN"], ["XI"], exemption="126.18")]), src="GB"), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   why="changed for issue 15: 126.18 never serves a national of a 126.1 country, even when its record names the country",
   basis="22 CFR 126.1(a): exemptions are unavailable for 126.1 countries; 126.1(a)(1) preserves 126.18(e) only, which concerns classified transfers to AUKUS dual nationals; 22 CFR 120.51(b): the release in GB is a reexport to every country of citizenship, CN included")
sc("foreign-ca-126-5", "22 CFR 126.5", req(person("foreign_person", ["CA"], [auth("EX-1265", "exemption", ["CA"], ["XI"], exemption="126.5")])), "allow", ["foreign-person-authorized"], "EX-1265")
sc("foreign-au-126-7", "22 CFR 126.7", req(person("foreign_person", ["AU"], [auth("EX-1267", "exemption", ["AU"], ["XI"], exemption="126.7")])), "allow", ["foreign-person-authorized"], "EX-1267")
sc("foreign-gb-other-exemption-named", "22 CFR 125.5; 125.4(a)", req(GB([auth("EX-X", "exemption", ["GB"], ["XI"], exemption="125.5")])), "allow", ["foreign-person-authorized"], "EX-X",
   why="changed for issue 15 (was foreign-gb-unknown-exemption, deny): an exemption the scope table does not describe is honoured for the countries and categories its record names",
   basis="docs/rules.md, scope of other exemptions: any other exemption is honoured only for the countries and categories its record names, never for a 126.1 country (22 CFR 126.1(a), 125.4(a)); this record names GB and category XI")
sc("foreign-cn-exemption-unavailable", "22 CFR 125.4(a)", req(person("foreign_person", ["CN"], [auth("EX-B2", "exemption", ["CN"], ["XI"], exemption="125.4(b)(2)")])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])
sc("foreign-ru-in-us-no-auth", "22 CFR 126.1 (Russia)", req(person("foreign_person", ["RU"])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])
sc("foreign-ni-before-listing", "22 CFR 126.1(p) (from 2024-03-15)", req(person("foreign_person", ["NI"]), time="2024-03-14T00:00:00Z"), "deny", ["deemed-export-foreign-person"])
sc("foreign-ni-after-listing", "22 CFR 126.1(p)", req(person("foreign_person", ["NI"]), time="2024-03-15T00:00:00Z"), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])
sc("foreign-no-citizenship", "22 CFR 120.50(b)", req(person("foreign_person", [])), "deny", ["foreign-person-no-citizenship"])
sc("foreign-gb-second-auth-used", "22 CFR 120.56(a)(2)", req(GB([D5(expires="2025-12-31"), auth("TAA-2", "TAA", ["GB"], ["XI"])])), "allow", ["foreign-person-authorized"], "TAA-2")
sc("dual-gb-kp-dsp5-gb-only", "22 CFR 126.1(d)(1); 120.50(b)", req(person("foreign_person", ["GB", "KP"], [D5()])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"])

# Unknown facts: fail closed.
sc("unknown-status-in-us", "22 CFR 120.62 (status not established)", req(person("unknown", ["US"])), "deny", ["unknown-person-status"])
sc("us-citizen-unknown-location", "22 CFR 120.50(a)", req(US(), src=None), "deny", ["unknown-location"])
sc("unknown-status-unknown-location", "22 CFR 120.62; 120.50(a)", req(person("unknown", []), src=None), "deny", ["unknown-person-status", "unknown-location"])
sc("label-missing", "22 CFR 120.33 (cannot classify)", req(US(), label=None), "deny", ["label-missing"])
sc("label-unparseable", "22 CFR 120.33", req(US(), label={"jurisdiction": "ITAR", "usml_category": "XXII"}), "deny", ["label-unparseable"])
sc("label-unknown-jurisdiction", "22 CFR 120.33", req(US(), label={"jurisdiction": "SECRET"}), "deny", ["label-unparseable"])
sc("classified-read", "32 CFR 117", req(US(), classified=True), "deny", ["classified-out-of-scope"])

# EAR.
sc("ear-eccn-foreign-no-license", "15 CFR 734.13(b)", req(GB(), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"])
sc("ear-eccn-foreign-license", "15 CFR 734.13(b); 750.7", req(GB([auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])]), label=EAR("9E003")), "allow", ["foreign-person-authorized"], "BIS-1")
sc("ear-eccn-subparagraph-covered", "15 CFR 738.2 (ECCN structure)", req(GB([auth("BIS-1", "EAR-license", ["GB"], eccns=["3A001"])]), label=EAR("3A001.a.1")), "allow", ["foreign-person-authorized"], "BIS-1")
sc("ear-eccn-other-subparagraph", "15 CFR 738.2", req(GB([auth("BIS-1", "EAR-license", ["GB"], eccns=["3A001.a"])]), label=EAR("3A001.b.1")), "deny", ["deemed-export-foreign-person"])
sc("ear-eccn-license-exception", "15 CFR 740.2", req(GB([auth("TSR-1", "EAR-exception", ["GB"], eccns=["5E002"])]), label=EAR("5E002")), "allow", ["foreign-person-authorized"], "TSR-1")
sc("ear-eccn-dsp5-does-not-cover", "15 CFR 734.13(b)", req(GB([auth("DSP5-1", "DSP-5", ["GB"], ["XI"], ["9E003"])]), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"])
sc("ear-eccn-cn-national-license", "15 CFR 750.7 (EAR licenses may name China)", req(person("foreign_person", ["CN"], [auth("BIS-2", "EAR-license", ["CN"], eccns=["9E610"])]), label=EAR("9E610")), "allow", ["foreign-person-authorized"], "BIS-2")
sc("ear-eccn-cn-national-no-license", "15 CFR 734.13(b)", req(person("foreign_person", ["CN"]), label=EAR("9E610")), "deny", ["deemed-export-foreign-person"])
sc("ear99-cn-national", "15 CFR 734.3(c)", req(person("foreign_person", ["CN"]), label=EAR99), "allow", ["ear99-no-license-required"])
sc("ear99-ir-national", "15 CFR 740 Supp. 1 (E:1)", req(person("foreign_person", ["IR"]), label=EAR99), "deny", ["ear99-embargoed-country"])
sc("ear99-cu-national", "15 CFR 746.2; 740 Supp. 1 (E:2)", req(person("foreign_person", ["CU"]), label=EAR99), "deny", ["ear99-embargoed-country"])
sc("ear99-us-person-in-sy", "15 CFR 746.9; 740 Supp. 1 (E:1)", req(US(), src="SY", label=EAR99), "deny", ["ear99-embargoed-country"])
sc("ear99-us-person-in-gb", "15 CFR 734.3(c)", req(US(), src="GB", label=EAR99), "allow", ["ear99-no-license-required"])
sc("ear99-dual-us-ir-us-person", "22 CFR 120.62 (US persons are not attributed citizenships)", req(person("us_citizen", ["US", "IR"]), label=EAR99), "allow", ["ear99-no-license-required"])
sc("ear99-unknown-location", "22 CFR 120.50(a) (fail closed)", req(GB(), src=None, label=EAR99), "deny", ["unknown-location"])
sc("public-to-cn-national", "22 CFR 120.34; 15 CFR 734.3(b)(3)", req(person("foreign_person", ["CN"]), label=PUBLIC), "allow", ["public-not-subject"])
sc("public-unknown-everything", "22 CFR 120.34", req(person("unknown", []), src=None, label=PUBLIC), "allow", ["public-not-subject"])

# Storing ciphertext.
ST = lambda **k: req(US(), action="store", **k)
sc("store-itar-us-not-e2e", "22 CFR 120.50(a) (not an export)", ST(e2e=False), "allow", ["store-in-us"])
sc("store-itar-de-e2e", "22 CFR 120.54(a)(5)", ST(storage="DE"), "allow", ["store-abroad-carve-out"])
sc("store-itar-de-not-e2e", "22 CFR 120.54(a)(5)(ii)", ST(storage="DE", e2e=False), "deny", ["store-abroad-not-end-to-end"])
sc("store-itar-cn", "22 CFR 120.54(a)(5)(iv)", ST(storage="CN"), "deny", ["store-proscribed-country"])
sc("store-itar-ru", "22 CFR 120.54(a)(5)(iv)", ST(storage="RU"), "deny", ["store-proscribed-country"])
sc("store-itar-ve-not-e2e", "22 CFR 120.54(a)(5)(ii),(iv)", ST(storage="VE", e2e=False), "deny", ["store-abroad-not-end-to-end", "store-proscribed-country"])
sc("store-itar-de-from-ir", "22 CFR 120.54(a)(5)(v)", ST(storage="DE", src="IR"), "deny", ["sent-from-proscribed-country"])
sc("store-itar-de-unknown-source", "22 CFR 120.50(a) (fail closed)", ST(storage="DE", src=None), "deny", ["unknown-location"])
sc("store-classified-us", "22 CFR 120.54(a)(5)(i)", ST(classified=True), "deny", ["classified-never-stored"])
sc("store-classified-de", "22 CFR 120.54(a)(5)(i)", ST(classified=True, storage="DE"), "deny", ["classified-never-stored"])
sc("store-ear-de-e2e", "15 CFR 734.18(a)(5)", ST(storage="DE", label=EAR("9E003")), "allow", ["store-abroad-carve-out"])
sc("store-ear-by-e2e", "15 CFR 734.18(a)(5)(iv) (D:5)", ST(storage="BY", label=EAR("9E003")), "deny", ["store-proscribed-country"])
sc("store-ear-de-not-e2e", "15 CFR 734.18(a)(5)(ii)", ST(storage="DE", e2e=False, label=EAR("9E003")), "deny", ["store-abroad-not-end-to-end"])
sc("store-ear99-cu", "15 CFR 746.2", ST(storage="CU", label=EAR99), "deny", ["ear99-embargoed-country"])
sc("store-ear99-de-not-e2e", "15 CFR 734.3(c)", ST(storage="DE", e2e=False, label=EAR99), "allow", ["ear99-no-license-required"])
sc("store-itar-cy-suspended", "22 CFR 126.1(r)", ST(storage="CY", time="2026-01-15T00:00:00Z"), "allow", ["store-abroad-carve-out"])
sc("store-itar-cy-after-suspension", "22 CFR 126.1(r)", ST(storage="CY"), "deny", ["store-proscribed-country"])
sc("store-itar-kh-after-removal", "22 CFR 126.1 (Cambodia removed 2025-11-07)", ST(storage="KH"), "allow", ["store-abroad-carve-out"])
sc("store-itar-kh-while-listed", "22 CFR 126.1(o)", ST(storage="KH", time="2024-01-01T00:00:00Z"), "deny", ["store-proscribed-country"])
sc("store-itar-de-not-e2e-from-cn", "22 CFR 120.54(a)(5)(ii),(v)", ST(storage="DE", e2e=False, src="CN"), "deny", ["store-abroad-not-end-to-end", "sent-from-proscribed-country"])
sc("store-public-cn", "22 CFR 120.34", ST(storage="CN", label=PUBLIC), "allow", ["public-not-subject"])

# Writing data in.
sc("write-foreign-from-us", "22 CFR 120.54(a)(5)(v)", req(GB(), action="write"), "allow", ["write-permitted"])
sc("write-us-from-gb", "22 CFR 120.54(a)(5)(v)", req(US(), action="write", src="GB"), "allow", ["write-permitted"])
sc("write-from-ir", "22 CFR 120.54(a)(5)(v); 126.1", req(US(), action="write", src="IR"), "deny", ["write-from-proscribed-country"])
sc("write-ear-from-cn", "22 CFR 120.54(a)(5)(v) applied to EAR data", req(US(), action="write", src="CN", label=EAR("9E003")), "deny", ["write-from-proscribed-country"])
sc("write-ear99-from-cu", "15 CFR 746.2", req(US(), action="write", src="CU", label=EAR99), "deny", ["ear99-embargoed-country"])
sc("write-ear99-from-cn", "15 CFR 734.3(c)", req(US(), action="write", src="CN", label=EAR99), "allow", ["write-permitted"])
sc("write-unknown-location", "22 CFR 120.50(a)", req(US(), action="write", src=None), "deny", ["unknown-location"])
sc("write-unknown-status", "22 CFR 120.62", req(person("unknown", ["GB"]), action="write"), "deny", ["unknown-person-status"])

# Issue 15: what each authorization type and exemption can authorize, former
# citizenships, and citations. Each states the text it rests on.
EX = lambda id, section, c, cats=("XI",), **k: auth(id, "exemption", c, cats, exemption=section, **k)
sc("citation-us-person-in-us", "22 CFR 120.54(a)(2)", req(US()), "allow", ["us-person-in-us"],
   basis="22 CFR 120.54(a)(2): transmitting or otherwise transferring technical data to a U.S. person in the United States from a person in the United States is not an export",
   cites={"us-person-in-us": "22 CFR 120.54(a)(2)"})
sc("citation-us-person-in-us-ear", "15 CFR 734.18(a)(2)", req(US(), label=EAR("9E003")), "allow", ["us-person-in-us"],
   basis="15 CFR 734.18(a)(2): transferring technology to a person in the United States who is not a foreign person, from another person in the United States, is not an export",
   cites={"us-person-in-us": "15 CFR 734.18(a)(2)"})
sc("citation-deemed-export", "22 CFR 120.50(a)(2); 120.50(b)", req(GB()), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 120.50(a)(2): releasing technical data to a foreign person in the United States is an export (a deemed export); 120.50(b): to every country of current or former citizenship or permanent residency",
   cites={"deemed-export-foreign-person": "22 CFR 120.50(a)(2); 22 CFR 120.50(b)"})
sc("citation-deemed-export-authorized", "22 CFR 120.50(a)(2); 123.1(a)(1)", req(GB([D5()])), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="22 CFR 120.50(a)(2) (deemed export) authorized by a DSP-5 (22 CFR 123.1(a)(1)) naming GB and category XI",
   cites={"foreign-person-authorized": "22 CFR 120.50(a)(2)"})
sc("citation-release-abroad-is-a-reexport", "22 CFR 120.51(b)", req(GB([D5()]), src="DE"), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 120.51(b): any release outside the United States of technical data to a foreign person is a reexport to every country of current or former citizenship or permanent residency; decrypting abroad is a release (120.56(a)(3)) and an export (120.50(a)(6))",
   cites={"deemed-export-foreign-person": "22 CFR 120.51(b)"})

# Former citizenships: attributed for the ITAR, not for the EAR.
sc("former-cn-dsp5-gb-only", "22 CFR 120.50(b); 126.1(a)", req(GB([D5()], former=["CN"])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 120.50(b): a release in the US to a foreign person is an export to every country in which the person has held or holds citizenship; China is a 126.1(d)(1) country and the DSP-5 names GB only")
sc("former-cn-dsp5-names-cn", "22 CFR 120.50(b); 126.1", req(GB([D5(c=["GB", "CN"])], former=["CN"])), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="an issued license that names a 126.1 country explicitly is honoured; the DSP-5 names both attributed countries, GB and CN (former citizenship, 22 CFR 120.50(b))")
sc("former-fr-dsp5-gb-only", "22 CFR 120.50(b)", req(GB([D5()], former=["FR"])), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 120.50(b) attributes every country where the person has held citizenship, FR included; the DSP-5 names GB only")
sc("former-fr-dsp5-gb-fr", "22 CFR 120.50(b)", req(GB([D5(c=["GB", "FR"])], former=["FR"])), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="22 CFR 120.50(b): every current and former citizenship is covered by the DSP-5")
sc("former-cn-exemption-names-cn", "22 CFR 125.4(a); 126.1(a)", req(GB([EX("EX-B2", "125.4(b)(2)", ["GB", "CN"])], former=["CN"])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 125.4(a) and 126.1(a): exemptions are unavailable for a 126.1 country; a former Chinese citizenship is attributed (120.50(b)), so no exemption covers this person even when it names CN")
sc("former-cn-126-18-abroad", "22 CFR 126.18; 126.1(a); 120.51(b)", req(GB([EX("EX-12618", "126.18", ["GB", "CN"])], former=["CN"]), src="GB"), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 120.51(b): a release abroad is a reexport to every country of former citizenship; 126.18 never serves a national, current or former, of a 126.1 country (126.1(a); 126.18(e) alone is preserved and concerns classified transfers)")
sc("former-cn-ear-not-attributed", "15 CFR 734.13(b)", req(GB([auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])], former=["CN"]), label=EAR("9E003")), "allow", ["foreign-person-authorized"], "BIS-1",
   basis="15 CFR 734.13(b): a release in the US is a deemed export to the foreign person's most recent country of citizenship or permanent residency; a former citizenship is not attributed")
sc("former-ir-ear99-not-attributed", "15 CFR 734.13(b); 740 Supp. 1", req(GB(former=["IR"]), label=EAR99), "allow", ["ear99-no-license-required"],
   basis="15 CFR 734.13(b) attributes the most recent citizenship only: a former Iranian citizenship does not make the release one to Country Group E:1")
sc("former-only-ear-attributed", "15 CFR 734.13(b)", req(person("foreign_person", [], [auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])], former=["CN"]), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"],
   basis="15 CFR 734.13(b): with no current citizenship or residence recorded, the most recent citizenship is a former one; the license names GB only")
sc("ear-all-current-citizenships-attributed", "15 CFR 734.13(b) (stricter: every current citizenship)", req(person("foreign_person", ["GB", "CN"], [auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])]), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"],
   basis="15 CFR 734.13(b) looks at the most recent citizenship; the record does not say which is most recent, so every current citizenship is attributed (documented strictness)")
sc("us-citizen-former-cn-in-us", "22 CFR 120.62; 120.54(a)(2)", req(person("us_citizen", ["US"], former=["CN"])), "allow", ["us-person-in-us"],
   basis="22 CFR 120.62: a US citizen is a US person; 120.50(b) attribution applies to foreign persons only")

# Permanent residence is attributed.
sc("resident-cn-dsp5-gb-only", "22 CFR 120.50(b); 126.1(a)", req(GB([D5()], res="CN")), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 120.50(b): the export is also to the country where the person holds permanent residency, here China, a 126.1 country")
sc("resident-cn-dsp5-names-cn", "22 CFR 120.50(b); 126.1", req(GB([D5(c=["GB", "CN"])], res="CN")), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="an issued license naming every attributed country, the 126.1 country of residence included, is honoured")
sc("resident-cn-exemption-names-cn", "22 CFR 125.4(a); 120.50(b)", req(GB([EX("EX-B2", "125.4(b)(2)", ["GB", "CN"])], res="CN")), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 125.4(a): exemptions do not apply to 126.1 destinations, and the release is an export to the country of residence (120.50(b))")
sc("resident-de-ear-license-gb-only", "15 CFR 734.13(b)", req(GB([auth("BIS-1", "EAR-license", ["GB"], eccns=["9E003"])], res="DE"), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"],
   basis="15 CFR 734.13(b): the most recent country of citizenship or permanent residency; both current ones are attributed (documented strictness)")
sc("resident-ir-ear99", "15 CFR 734.13(b); 740 Supp. 1 (E:1)", req(GB(res="IR"), label=EAR99), "deny", ["ear99-embargoed-country"],
   basis="15 CFR 734.13(b): the release is a deemed export to the country of permanent residency, Iran, in Country Group E:1")

# Authorization types that release no technical data.
sc("us-citizen-in-gb-dsp73", "22 CFR 123.5; 125.2; 120.56(a)(4)", req(US([auth("DSP73-1", "DSP-73", ["GB"], ["XI"])]), src="GB"), "deny", ["us-person-abroad-unauthorized"],
   basis="22 CFR 123.5: a DSP-73 is a temporary hardware license; decrypting abroad is an export (120.56(a)(4)) that needs a technical-data authorization (125.2)")
sc("foreign-gb-dsp73-and-dsp5", "22 CFR 123.5; 123.1(a)(1)", req(GB([auth("DSP73-1", "DSP-73", ["GB"], ["XI"]), D5()])), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="the DSP-73 releases nothing (22 CFR 123.5); the DSP-5 (123.1(a)(1), 125.2) covers GB and category XI and is the one used")

# 126.5: Canada only.
sc("de-national-126-5", "22 CFR 126.5(b)", req(person("foreign_person", ["DE"], [EX("EX-1265", "126.5", ["DE"])])), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 126.5(b): exports to Canada for end use in Canada by a Canadian-registered person or Canadian governmental authority; a German national is none of these")
sc("ca-national-in-gb-126-5", "22 CFR 126.5(b)", req(person("foreign_person", ["CA"], [EX("EX-1265", "126.5", ["CA", "GB"])]), src="GB"), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 126.5(b): end use in Canada; a release in GB is outside it")
sc("ca-de-dual-126-5", "22 CFR 126.5(b); 120.50(b)", req(person("foreign_person", ["CA", "DE"], [EX("EX-1265", "126.5", ["CA", "DE"])])), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 120.50(b): the release is also an export to Germany, which 126.5 does not reach (itarvault's reading: every attributed country must be Canada)")
sc("ca-former-cn-126-5", "22 CFR 126.5; 126.1(a); 120.50(b)", req(person("foreign_person", ["CA"], [EX("EX-1265", "126.5", ["CA", "CN"])], former=["CN"])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 120.50(b) attributes the former Chinese citizenship; no exemption is available for a 126.1 country (126.1(a), 125.4(a))")
sc("ca-national-in-ca-126-5", "22 CFR 126.5(b)", req(person("foreign_person", ["CA"], [EX("EX-1265", "126.5", ["CA"])]), src="CA"), "allow", ["foreign-person-authorized"], "EX-1265",
   basis="22 CFR 126.5(b): export to Canada for end use in Canada by a Canadian-registered person")
sc("us-citizen-in-ca-126-5", "22 CFR 126.5(b)", req(US([EX("EX-1265", "126.5", ["CA"])]), src="CA"), "allow", ["us-person-abroad-authorized"], "EX-1265",
   basis="22 CFR 126.5(b): data going to and used in Canada; the record asserts the Canadian end use (itarvault's reading, docs/rules.md)")

# 126.7: the AUKUS community only.
sc("jp-national-in-jp-126-7", "22 CFR 126.7(b)(1)", req(person("foreign_person", ["JP"], [EX("EX-1267", "126.7", ["JP"])]), src="JP"), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 126.7(b)(1): the activity must be to or within the physical territory of Australia, the United Kingdom or the United States")
sc("gb-national-in-au-126-7", "22 CFR 126.7(b)(1)", req(GB([EX("EX-1267", "126.7", ["GB", "AU"])]), src="AU"), "allow", ["foreign-person-authorized"], "EX-1267",
   basis="22 CFR 126.7(b)(1): within Australia, to a United Kingdom national: both inside the AUKUS community")
sc("gb-fr-dual-126-7", "22 CFR 126.7(b)(1); 120.50(b)", req(person("foreign_person", ["GB", "FR"], [EX("EX-1267", "126.7", ["GB", "FR"])])), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 120.50(b): the release is also an export to France, outside the AUKUS community of 126.7(b)(1)")
sc("us-citizen-in-au-126-7", "22 CFR 126.7(b)(1)", req(US([EX("EX-1267", "126.7", ["AU"])]), src="AU"), "allow", ["us-person-abroad-authorized"], "EX-1267",
   basis="22 CFR 126.7(a), (b)(1): transfers by US persons within Australia")

# 126.18: foreign licensees' employees, in the licensee's country; never a US person,
# never a national of a 126.1 country; 126.18(e) never applies here.
sc("us-citizen-in-gb-126-18", "22 CFR 126.18(a)", req(US([EX("EX-12618", "126.18", ["GB"])]), src="GB"), "deny", ["us-person-abroad-unauthorized"],
   basis="22 CFR 126.18(a): transfers by a foreign end user to its bona fide regular employees who are dual or third-country nationals; it does not serve a US person abroad (125.4(b)(9) does)")
sc("gb-national-in-us-126-18", "22 CFR 126.18(a)", req(GB([EX("EX-12618", "126.18", ["GB"])])), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 126.18(a): the transfer must take place completely within the territory of the country where the foreign end user is; not a release in the US")
sc("gb-national-in-gb-126-18-e", "22 CFR 126.18(e)", req(GB([EX("EX-12618E", "126.18(e)", ["GB"])]), src="GB"), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 126.18(e) concerns classified transfers to AUKUS dual nationals; classified data is never held in itarvault")
sc("us-citizen-in-gb-126-18-cfr-prefix", "22 CFR 126.18(a)", req(US([EX("EX-12618", "22 CFR § 126.18", ["GB"])]), src="GB"), "deny", ["us-person-abroad-unauthorized"],
   basis="22 CFR 126.18(a) however the section is written: `22 CFR § 126.18` is 126.18")

# 125.4(b)(9): US-person employees abroad; a foreign-person employee only through a
# separate authorization, which is then the one used.
sc("gb-employee-in-gb-b9-only", "22 CFR 125.4(b)(9)(i)", req(GB([EX("EX-B9", "125.4(b)(9)", ["GB"], cats=())]), src="GB"), "deny", ["deemed-export-foreign-person"],
   basis="22 CFR 125.4(b)(9)(i): foreign persons may only receive such technical data as they are authorized to receive through a separate license or other approval")
sc("gb-employee-in-gb-b9-and-dsp5", "22 CFR 125.4(b)(9)(i); 123.1(a)(1)", req(GB([EX("EX-B9", "125.4(b)(9)", ["GB"], cats=()), D5()]), src="GB"), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="22 CFR 125.4(b)(9)(i): the separate license (a DSP-5 naming GB and category XI) is what authorizes the foreign-person employee, so it is the one used")
sc("gb-employee-in-de-b9-and-dsp5-gb-only", "22 CFR 125.4(b)(9)(i); 120.51(b)", req(GB([EX("EX-B9", "125.4(b)(9)", ["DE", "GB"], cats=()), D5()]), src="DE"), "deny", ["deemed-export-foreign-person"],
   basis="one authorization must cover every country of the release (itarvault's reading, docs/rules.md): the DSP-5 names GB but not DE, where the data is released (120.51(b)); 125.4(b)(9) does not cover the foreign person itself")
sc("us-citizen-in-gb-b9-names-other-category", "22 CFR 125.4(b)(9)", req(US([EX("EX-B9", "125.4(b)(9)", ["GB"], cats=["XII"])]), src="GB"), "deny", ["us-person-abroad-unauthorized"],
   basis="125.4(b)(9) is not limited by category, but a record that names categories is held to them: this one names XII, the data is XI")

# Exemptions for 126.1 countries and other exemption records.
sc("cn-national-other-exemption-names-cn", "22 CFR 125.4(a); 126.1(a)", req(person("foreign_person", ["CN"], [EX("EX-B3", "125.4(b)(3)", ["CN"])])), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 125.4(a): the technical-data exemptions do not apply to 126.1 destinations; 126.1(a): no exemption for China")
sc("cn-national-taa-names-cn", "22 CFR 124.1; 126.1", req(person("foreign_person", ["CN"], [auth("TAA-CN", "TAA", ["CN"], ["XI"])])), "allow", ["foreign-person-authorized"], "TAA-CN",
   basis="an issued agreement (22 CFR 124.1) that names a 126.1 country explicitly is honoured")
sc("cn-national-ear-exception-names-cn", "15 CFR 740.2(a)(12) (stricter: every license exception)", req(person("foreign_person", ["CN"], [auth("LE-1", "EAR-exception", ["CN"], eccns=["9E610"])]), label=EAR("9E610")), "deny", ["deemed-export-foreign-person"],
   basis="15 CFR 740.2(a)(12): license exceptions are unavailable for 600-series items to Country Group D:5 (which tracks 126.1); itarvault uses no license exception for a D:5 country (documented strictness)")
sc("gb-national-exemption-not-a-section", "22 CFR 125.4", req(GB([EX("EX-?", "the Canadian one", ["GB"])])), "deny", ["deemed-export-foreign-person"],
   basis="an exemption is a section of 22 CFR parts 120 to 129; a record that names none authorizes nothing (fail closed)")
sc("cy-national-exemption-before-2026-10-01", "22 CFR 126.1(r)", req(person("foreign_person", ["CY"], [EX("EX-B2", "125.4(b)(2)", ["CY"])]), time="2026-09-30T12:00:00Z"), "allow", ["foreign-person-authorized"], "EX-B2",
   basis="22 CFR 126.1(r): the policy of denial for Cyprus is suspended through 2026-09-30, so the exemption is available")
sc("cy-national-exemption-after-2026-09-30", "22 CFR 126.1(r); 125.4(a)", req(person("foreign_person", ["CY"], [EX("EX-B2", "125.4(b)(2)", ["CY"])]), time="2026-10-01T00:00:00Z"), "deny", ["proscribed-country-national", "deemed-export-foreign-person"],
   basis="22 CFR 126.1(r): no renewal of the Cyprus suspension after 2026-09-30 is recorded, so Cyprus is proscribed again and no exemption is available (125.4(a))")
sc("cy-national-dsp5-after-2026-09-30", "22 CFR 126.1(r); 123.1(a)(1)", req(person("foreign_person", ["CY"], [D5(c=["CY"])]), time="2026-10-01T00:00:00Z"), "allow", ["foreign-person-authorized"], "DSP5-123456",
   basis="an issued license naming Cyprus explicitly is honoured while Cyprus is proscribed (126.1(r))")

# Stricter than the law, documented in docs/rules.md.
sc("ear99-sy-national-spp-not-evaluated", "15 CFR 740 Supp. 1 (E:1); 740.5 not evaluated", req(person("foreign_person", ["SY"]), label=EAR99), "deny", ["ear99-embargoed-country"],
   basis="Syria stays in Country Group E:1; License Exception SPP (15 CFR 740.5, since 2025-09-02) may authorize EAR99 items, but itarvault does not evaluate it and denies (documented strictness)")
sc("ear-eccn-ca-national-country-chart-not-evaluated", "15 CFR 738 Supp. 1 not evaluated", req(person("foreign_person", ["CA"]), label=EAR("9E003")), "deny", ["deemed-export-foreign-person"],
   basis="15 CFR 738 Supp. 1 (Commerce Country Chart): 9E003's reasons for control may not require a license for Canada; itarvault does not evaluate the Country Chart and requires a license or exception for any ECCN (documented strictness)")

# Labels the floor denies (never invalid input).
sc("label-bad-eccn", "22 CFR 120.33; 15 CFR 738.2", req(US(), label={"jurisdiction": "EAR", "eccn": "3X001"}), "deny", ["label-unparseable"],
   basis="an ECCN is a digit, a product group A to E and three digits (15 CFR 738.2); a label that does not parse is denied, not rejected")

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    if f.endswith(".json"):
        os.unlink(os.path.join(OUT, f))
for i, s in enumerate(S):
    with open(os.path.join(OUT, f"{i + 1:03d}-{s['name']}.json"), "w") as f:
        json.dump(s, f, indent=2)
        f.write("\n")
print(f"wrote {len(S)} scenarios to {OUT}")
