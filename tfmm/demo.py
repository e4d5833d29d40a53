"""`tfmm demo`: demo data, the fused model and one model per modality, compared."""

import dataclasses
import json
import os
import time

import keras

from tfmm._quiet import drop_cross_model_retracing_warnings
from tfmm.config import config_from_dict
from tfmm.data.demo import demo_config, make_demo_dataset
from tfmm.export import export
from tfmm.export.formats import require_extras
from tfmm.export.runtime import predict_export
from tfmm.files import RunDir
from tfmm.training import load_run, predict, train

SINGLE = (("text",), ("image",), ("audio",))


def run_demo(out_dir="demo_run", n=600, seed=0, epochs=8, export_dir="savedmodels/demo", log=print):
    """Makes the demo data, trains the tri-modal concat model and, with the same budget
    (epochs, batch size, optimizer), one model per single modality; evaluates all on the
    test split and prints a table; exports the fused model to `export_dir` (SavedModel and
    ONNX, next version) unless it is None. Returns the table as a dict."""
    if export_dir:  # stop before training, not after, when an export's extra is missing
        require_extras(("savedmodel", "onnx"), "tfmm demo (it exports to ONNX)")
    start = time.time()
    drop_cross_model_retracing_warnings()  # four models in one process: see _quiet
    data_dir = os.path.join(out_dir, "data")
    if not os.path.exists(os.path.join(data_dir, "test.csv")):
        make_demo_dataset(data_dir, n=n, seed=seed)
        log(f"tfmm demo: wrote {n} examples (JPEG/PNG, 16 kHz WAV, text) to {data_dir}")
    results, runs = {}, {}
    for modalities in [("text", "image", "audio"), *SINGLE]:
        name = "fused" if len(modalities) == 3 else modalities[0] + "_only"
        keras.utils.clear_session()
        config = dataclasses.replace(
            config_from_dict(demo_config(data_dir, modalities=modalities, epochs=epochs)),
            name=f"demo_{name}",
        )
        t0 = time.time()
        log(f"\ntfmm demo: training {name} ({' + '.join(modalities)})")
        run_dir = os.path.join(out_dir, "runs", name)
        if RunDir(run_dir).is_finished():
            log(f"tfmm demo: {run_dir} is already trained; using its metrics.json")
            metrics = RunDir(run_dir).read_metrics()
        else:
            _, metrics = train(config, run_dir, log=log, verbose=2)
        runs[name] = run_dir
        m = metrics["label"]
        results[name] = {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "auroc": m["auroc"],
            "seconds": round(time.time() - t0, 1),
            "peak_rss_mb": peak_rss_mb(),
        }
    lines = [
        "",
        "model          test accuracy  macro-F1  AUROC   train+eval s",
        "-------------  -------------  --------  ------  ------------",
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<13}  {r['accuracy']:>13.3f}  {r['macro_f1']:>8.3f}  "
            f"{r['auroc']:>6.3f}  {r['seconds']:>12.1f}"
        )
    best_single = max(r["accuracy"] for k, r in results.items() if k != "fused")
    margin = results["fused"]["accuracy"] - best_single
    lines.append(
        f"\nfused beats the best single modality by {margin:+.3f} accuracy "
        f"(chance is 0.125; one modality alone can reach about 0.25)."
    )
    for line in lines:
        log(line)
    exported = None
    if export_dir:
        exported = _export_and_check(
            runs["fused"], export_dir, os.path.join(data_dir, "test.csv"), log
        )
        results["export"] = exported
        exported["peak_rss_mb"] = peak_rss_mb()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plots = "plots, " if os.path.exists(os.path.join(runs["fused"], "learning_curves.png")) else ""
    log(
        f"\ntfmm demo: done in {time.time() - start:.0f} s. Data: {data_dir}; runs (model.keras, "
        f"metrics.json, history.csv, {plots}TensorBoard logs): {os.path.join(out_dir, 'runs')}; "
        f"table: {os.path.join(out_dir, 'results.json')}"
        + (f"; exports: {exported['version_dir']}" if exported else "")
    )
    return results


def peak_rss_mb():
    """This process's peak resident memory so far, in MB (VmHWM; None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


def _export_and_check(run_dir, export_dir, test_csv, log):
    """Exports the fused model (SavedModel + ONNX) and checks that both runtimes give the
    Keras model's labels on the test split."""
    log(f"\ntfmm demo: exporting the fused model to {export_dir}")
    paths = export(run_dir, export_dir, log=log)
    model, config, vocabularies = load_run(run_dir)
    keras_labels = [r["label"] for r in predict(model, config, test_csv, vocabularies)]
    agree = {}
    for kind in ("savedmodel", "onnx"):
        rows = predict_export(paths[kind], test_csv)
        agree[kind] = sum(r["label"] == k for r, k in zip(rows, keras_labels))
        log(
            f"tfmm demo: {kind} gives the Keras model's label on {agree[kind]}/"
            f"{len(keras_labels)} test rows"
        )
    return {
        "version_dir": paths["version_dir"],
        "onnx": paths["onnx"],
        "agree": agree,
        "rows": len(keras_labels),
    }
