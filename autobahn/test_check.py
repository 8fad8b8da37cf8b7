"""Unit tests for autobahn/check.py on small synthetic report directories.

    python3 -m unittest discover -s autobahn -p 'test_*.py'
"""

import importlib.util
import io
import json
import os
import tempfile
import unittest

_spec = importlib.util.spec_from_file_location(
    "ws13_autobahn_check", os.path.join(os.path.dirname(os.path.abspath(__file__)), "check.py"))
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def write_report(root, agents):
    """agents: {agent: {case_id: (behavior, behaviorClose)}} -> a wstest-like report dir."""
    index = {}
    for agent, cases in agents.items():
        index[agent] = {}
        for n, (case_id, (behavior, close)) in enumerate(sorted(cases.items())):
            reportfile = f"{agent}_case_{case_id.replace('.', '_')}.json"
            index[agent][case_id] = {
                "behavior": behavior,
                "behaviorClose": close,
                "duration": 10,
                "remoteCloseCode": 1000,
                "reportfile": reportfile,
            }
            with open(os.path.join(root, reportfile), "w") as f:
                json.dump({
                    "id": case_id,
                    "behavior": behavior,
                    "behaviorClose": close,
                    "description": f"<b>case</b> {case_id}",
                    "result": f"result text of {case_id}",
                    "resultClose": f"close text of {case_id}",
                    "started": f"2025-01-01T00:00:{n:02d}.000Z",
                    "duration": 10,
                }, f)
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)


def all_ok(ids):
    return {i: ("OK", "OK") for i in ids}


class CheckTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def run_check(self, *args, expected=None):
        argv = [self.dir, *args]
        if expected is not None:
            path = os.path.join(self.dir, "expected-cases.json")
            with open(path, "w") as f:
                json.dump(expected, f)
        out = io.StringIO()
        rc = check.main(argv, out=out)
        return rc, out.getvalue()

    def row(self, text, section):
        for line in text.splitlines():
            cells = line.split()
            if cells and cells[0] == str(section):
                return cells
        self.fail(f"no row for section {section} in:\n{text}")

    def test_all_ok_and_informational_pass(self):
        cases = all_ok(["1.1.1", "1.1.2", "7.1.6"])
        cases["7.1.6"] = ("INFORMATIONAL", "INFORMATIONAL")
        cases["7.1.5"] = ("OK", "INFORMATIONAL")
        write_report(self.dir, {"ws13": cases})
        rc, out = self.run_check("--agent", "ws13", expected=sorted(cases))
        self.assertEqual(rc, 0, out)
        # section, cases, OK, NON-STRICT, FAILED, INFORMATIONAL, UNIMPLEMENTED, MISSING, time
        self.assertEqual(self.row(out, 1)[:8], ["1", "2", "2", "0", "0", "0", "0", "0"])
        self.assertEqual(self.row(out, 7)[:8], ["7", "2", "1", "0", "0", "1", "0", "0"])
        self.assertIn("ws13: 4 passed, 0 failed", out)
        self.assertIn("wall time: 3.0 s", out)

    def test_non_strict_fails(self):
        cases = all_ok(["3.1", "3.2"])
        cases["3.2"] = ("NON-STRICT", "OK")
        write_report(self.dir, {"ws13": cases})
        rc, out = self.run_check(expected=sorted(cases))
        self.assertEqual(rc, 1)
        self.assertEqual(self.row(out, 3)[:5], ["3", "2", "1", "1", "0"])
        self.assertIn("3.2: behavior=NON-STRICT", out)
        self.assertIn("result: result text of 3.2", out)

    def test_bad_close_fails_even_when_behavior_ok(self):
        for close in ("FAILED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT", None):
            with self.subTest(close=close):
                cases = all_ok(["5.1", "5.2"])
                cases["5.2"] = ("OK", close)
                write_report(self.dir, {"ws13": cases})
                rc, out = self.run_check(expected=sorted(cases))
                self.assertEqual(rc, 1, out)
                self.assertEqual(self.row(out, 5)[:5], ["5", "2", "1", "0", "1"])
                self.assertIn("close:  close text of 5.2", out)
                self.assertNotIn("result: result text of 5.2", out)

    def test_failed_and_no_close_fail(self):
        for behavior in ("FAILED", "NO_CLOSE", "SOMETHING NEW"):
            with self.subTest(behavior=behavior):
                cases = all_ok(["6.1.1", "6.1.2"])
                cases["6.1.2"] = (behavior, "OK")
                write_report(self.dir, {"ws13": cases})
                rc, out = self.run_check(expected=sorted(cases))
                self.assertEqual(rc, 1, out)
                self.assertIn("1 case(s) not OK", out)

    def test_unimplemented_only_allowed_outside_the_selection(self):
        cases = all_ok(["1.1.1"])
        cases["12.1.1"] = ("UNIMPLEMENTED", "UNIMPLEMENTED")
        write_report(self.dir, {"ws13": cases})
        rc, out = self.run_check(expected=["1.1.1"])
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.row(out, 12)[:7], ["12", "1", "0", "0", "0", "0", "1"])
        rc, out = self.run_check(expected=["1.1.1", "12.1.1"])
        self.assertEqual(rc, 1, out)

    def test_missing_selected_case_fails(self):
        write_report(self.dir, {"ws13": all_ok(["1.1.1", "1.1.2"])})
        rc, out = self.run_check(expected=["1.1.1", "1.1.2", "2.1", "9.1.1"])
        self.assertEqual(rc, 1)
        self.assertEqual(self.row(out, 2)[:8], ["2", "0", "0", "0", "0", "0", "0", "1"])
        self.assertIn("2 selected case(s) missing from the report: 2.1 9.1.1", out)

    def test_default_selection_is_sections_1_to_10(self):
        ids = [f"{sec}.{i}" for sec, n in check.DEFAULT_SECTION_COUNTS.items() for i in range(1, n + 1)]
        write_report(self.dir, {"ws13": all_ok(ids)})
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)
        self.assertIn("ws13: 301 passed, 0 failed", out)
        write_report(self.dir, {"ws13": all_ok(ids[:-1])})  # no 10.1
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertEqual(self.row(out, 10)[-2], "1")

    def test_agents(self):
        write_report(self.dir, {"good": all_ok(["1.1.1"]), "bad": {"1.1.1": ("FAILED", "OK")}})
        self.assertEqual(self.run_check("--agent", "good", expected=["1.1.1"])[0], 0)
        self.assertEqual(self.run_check("--agent", "bad", expected=["1.1.1"])[0], 1)
        rc, out = self.run_check(expected=["1.1.1"])  # every agent
        self.assertEqual(rc, 1)
        self.assertIn("'good'", out)
        self.assertIn("'bad'", out)
        rc, out = self.run_check("--agent", "other", expected=["1.1.1"])
        self.assertEqual(rc, 1)
        self.assertIn("agents: bad, good", out)

    def test_unusable_report(self):
        rc, out = self.run_check()
        self.assertEqual(rc, 2)
        self.assertIn("cannot read", out)
        with open(os.path.join(self.dir, "index.json"), "w") as f:
            f.write("{}")
        self.assertEqual(self.run_check()[0], 1)


if __name__ == "__main__":
    unittest.main()
