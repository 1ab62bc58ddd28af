import json

import numpy as np

from latentlab import config, report
from latentlab.data import DataSource


def test_metrics_and_report_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTLAB_BUILD", str(tmp_path))
    cfg = config.load("01", profile="smoke", verbose=False)
    source = DataSource("MNIST", "local", "/data/mnist.npz")
    path = report.save_metrics(cfg, {"mse": np.float32(0.0123), "curve": np.arange(3), "nested": {"acc": 0.98}}, source)
    record = json.loads(path.read_text())
    assert record["profile"] == "smoke" and record["data_source"] == str(source)
    assert record["metrics"]["curve"] == [0, 1, 2] and abs(record["metrics"]["mse"] - 0.0123) < 1e-6
    assert oct(path.stat().st_mode)[-3:] == "644"
    arrays = report.save_arrays(cfg, "samples", images=np.zeros((2, 28, 28)), labels=[1, 2])
    with np.load(arrays) as f:
        assert f["labels"].tolist() == [1, 2]
    text = report.write_report(tmp_path).read_text()
    assert f"## {cfg.stem}" in text and "| mse | 0.0123 |" in text and "| nested.acc | 0.98 |" in text


def test_report_without_metrics_says_what_to_do(tmp_path):
    assert "make run" in report.write_report(tmp_path / "empty").read_text()
