"""benchmarks/README.md shows the results files as they are: no table there is pasted by hand."""

import pytest

from benchmarks import report


def test_every_generated_table_matches_its_results_files():
    assert report.main(["--check"]) == 0


def test_a_stale_table_is_found_and_rewritten(tmp_path, monkeypatch):
    page = tmp_path / "README.md"
    tables = report.generated_tables()
    page.write_text("text\n<!-- generated: speed/*.json -->\n| stale |\n<!-- /generated -->\nmore\n")
    monkeypatch.setattr(report, "PAGE", page)
    assert report.main(["--check"]) == 1
    assert report.main([]) == 0
    assert (
        page.read_text()
        == f"text\n<!-- generated: speed/*.json -->\n{tables['speed/*.json']}\n<!-- /generated -->\nmore\n"
    )
    # A new, empty region is filled, and the region after it is left as it was.
    region = "<!-- generated: speed/*.json -->\n{}\n<!-- /generated -->\n"
    page.write_text("<!-- generated: serving_throughput.json -->\n<!-- /generated -->\ntext\n" + region.format("| x |"))
    assert report.main([]) == 0
    assert page.read_text() == (
        f"<!-- generated: serving_throughput.json -->\n{tables['serving_throughput.json']}\n<!-- /generated -->\n"
        "text\n" + region.format(tables["speed/*.json"])
    )
    page.write_text("<!-- generated: nothing.json -->\n\n<!-- /generated -->\n")
    with pytest.raises(SystemExit, match="nothing.json"):
        report.main([])
