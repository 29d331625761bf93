#!/usr/bin/env python3
"""Unpack the ONNX Runtime library from a PyPI `onnxruntime` wheel.

    scripts/ort-from-wheel.py WHEEL_DIR DEST

Takes the one onnxruntime-*.whl in WHEEL_DIR and puts its onnxruntime/capi/libonnxruntime*
files into DEST (replaced whole, through DEST.partial, so an interrupted run leaves no half
folder), with a WHEEL file naming the wheel. Used by scripts/setup.sh (this machine) and
scripts/cross.sh (a device's architecture).
"""
import pathlib, shutil, sys, zipfile

tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("onnxruntime-*.whl"))
part = dest.with_name(dest.name + ".partial")
shutil.rmtree(part, ignore_errors=True)
part.mkdir(parents=True)
with zipfile.ZipFile(wheel) as z:
    libs = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime")]
    for n in libs:
        (part / pathlib.Path(n).name).write_bytes(z.read(n))
if not any("providers" not in n for n in libs):
    sys.exit(f"{wheel.name} holds no libonnxruntime")
(part / "WHEEL").write_text(wheel.name + "\n")
shutil.rmtree(dest, ignore_errors=True)
part.rename(dest)
