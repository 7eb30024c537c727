"""Batch scoring under fault injection: bad rows go to the dead-letter output, every other row is scored.

The transform-graph path (raw text and numbers in, an unseen category marked out of
range) is covered by `test_pipeline.py`'s batch-scoring test on the pipeline's model;
this one uses a small numeric model so that it needs no pipeline run.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BACKEND, exported_fence_gan, plane_data

from keras_synthad.pipelines import batch_scoring

NAMES = ["a", "b", "c", "d"]
BEAM = ["--runner=FnApiRunner"]

pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="backend-independent (a SavedModel in a Beam job): runs in the TensorFlow process"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    x, base = plane_data(1000), tmp_path_factory.mktemp("base")
    return exported_fence_gan(base, x, NAMES, contamination=0.1, epochs=1, batch_size=200), x, base


def test_bad_rows_go_to_the_dead_letter_output_and_every_other_row_is_scored(served, tmp_path):
    """1.2 % bad rows of six kinds among 1,000, one row far outside the training range, one quoted cell."""
    model, x, base = served
    rows = pd.DataFrame(x, columns=NAMES).round(6)
    rows.insert(0, "row_id", np.arange(len(rows)))
    rows["label"] = "normal"
    rows.loc[500, "b"] = 40.0  # scored, and marked out of range
    rows.to_csv(tmp_path / "in.csv", index=False)
    header, *lines = (tmp_path / "in.csv").read_text().splitlines()
    columns = header.split(",")

    def with_cell(line, column, value):
        cells = line.split(",")
        cells[columns.index(column)] = value
        return ",".join(cells)

    kinds = [
        (lambda line: line.rsplit(",", 1)[0], "5 fields where the header has 6"),
        (lambda line: line + ",extra", "7 fields where the header has 6"),
        (lambda line: with_cell(line, "a", ""), "column 'a' is empty"),
        (lambda line: with_cell(line, "c", "many"), "column 'c' holds 'many', not a number"),
        (lambda line: with_cell(line, "d", "nan"), "column 'd' is nan"),
        (lambda line: with_cell(line, "label", '"normal'), "a quote is not closed"),
    ]
    bad = {}
    for k, (change, reason) in enumerate(kinds):
        for index in (37 + 97 * k, 611 + 71 * k):
            lines[index] = change(lines[index])
            bad[index] = (reason, lines[index])
    lines[123] = with_cell(lines[123], "label", '"normal, quoted"')  # a good row with a quoted comma
    (tmp_path / "in.csv").write_text("\n".join([header, *lines]) + "\n")

    result = batch_scoring.run(base, tmp_path / "in.csv", tmp_path / "scored", BEAM)
    assert (result["rows_scored"], result["rows_dead_lettered"]) == (988, 12)
    out = pd.concat([pd.read_csv(p) for p in result["output"]]).sort_values("row_id").reset_index(drop=True)
    assert out["row_id"].tolist() == [i for i in range(1000) if i not in bad]  # every good row, once
    good = rows.drop(index=list(bad))[NAMES].to_numpy(np.float32)
    np.testing.assert_allclose(out["score"].to_numpy(), model.predict(good, verbose=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy(), model.detect(good))
    np.testing.assert_array_equal(out["out_of_range"].to_numpy(), model.out_of_range(good).astype(int))
    assert out.loc[out.row_id == 500, ["out_of_range", "is_anomaly"]].values.tolist() == [[1, 1]]
    assert out.loc[out.row_id == 123, "label"].tolist() == ["normal, quoted"]
    assert result["rows_out_of_range"] == int(out["out_of_range"].sum()) >= 1
    dead = pd.concat([pd.read_csv(p, keep_default_na=False) for p in result["dead_letter"]]).sort_values("line")
    assert dead["line"].tolist() == [i + 2 for i in sorted(bad)]  # CSV line numbers: the header is line 1
    for (_, row), index in zip(dead.iterrows(), sorted(bad), strict=True):
        assert bad[index][0] in row["reason"] and row["row"] == bad[index][1]
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["in.csv", *sorted(Path(p).name for p in result["output"] + result["dead_letter"])]


def test_a_clean_file_writes_no_dead_letter_output_and_a_failed_job_leaves_nothing(served, tmp_path):
    import gzip

    _, x, base = served
    pd.DataFrame(x[:50], columns=NAMES).to_csv(tmp_path / "in.csv", index=False)
    result = batch_scoring.run(base, tmp_path / "in.csv", tmp_path / "scored", BEAM)
    assert result["rows_scored"] == 50 and result["dead_letter"] == []
    # A file cut short: its header reads, the job then fails while reading the rows.
    text = pd.DataFrame(x, columns=NAMES).to_csv(index=False).encode()
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(text)[: len(gzip.compress(text)) // 2])
    failed = tmp_path / "failed"
    failed.mkdir()
    with pytest.raises(Exception, match="end-of-stream|Compressed file ended"):
        batch_scoring.run(base, tmp_path / "cut.csv.gz", failed / "scored", BEAM)
    assert list(failed.iterdir()) == []  # no shard, no beam-temp folder


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_blocks_of_whole_lines_keep_every_line_number(tmp_path, end):
    lines = [f"{i},{'x' * (i % 7)}" if i % 5 else "" for i in range(2, 300)]  # blank lines are skipped
    (tmp_path / "in.csv").write_text(end.join(["a,b", *lines]), newline="")
    chunks = list(batch_scoring.numbered_chunks(tmp_path / "in.csv", size=64))
    assert len(chunks) > 10
    numbered = [pair for chunk in chunks for pair in zip(*batch_scoring.chunk_lines(chunk), strict=True)]
    assert numbered == [(i, line) for i, line in enumerate(lines, start=2) if line]
