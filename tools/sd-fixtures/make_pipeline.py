#!/usr/bin/python3
"""Write a random-weight Stable Diffusion pipeline in the folder layout `optimum-cli export onnx` writes.

    /usr/bin/python3 tools/sd-fixtures/make_pipeline.py --kind sd15|sd21v|sdxl [--fp16]
        [--timestep-dtype int64|float] [--size tiny|full] [--no-golden] --out DIR

--size tiny  (default) a few-hundred-kB pipeline plus golden.json (reference token ids, text
             encoder outputs and a 4-step sampling run computed with the torch modules).
--size full  (sd15 only) the UNet at Stable Diffusion 1.5's real size (~860 M parameters, ~3.4 GB
             of external data, exported at batch 2 x 4 x 64 x 64); text encoder and VAE stay tiny
             except the text encoder's width (768, the UNet's cross_attention_dim).
See README.md for the layout, the facts it follows and how to check reproducibility.
"""
import argparse
import gc
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from sdfx import golden  # noqa: E402
from sdfx.build import Pipeline  # noqa: E402
from sdfx.kinds import KINDS  # noqa: E402


def parse(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", required=True, choices=sorted(KINDS))
    ap.add_argument("--fp16", action="store_true", help="export every graph in float16 (optimum --fp16 / --dtype fp16)")
    ap.add_argument("--timestep-dtype", choices=["int64", "float"],
                    help="UNet timestep input: int64 of shape [steps] (optimum <= 1.23) or a float scalar "
                         "(optimum >= 1.24); default: int64 for sd15, float otherwise")
    ap.add_argument("--size", choices=["tiny", "full"], default="tiny")
    ap.add_argument("--no-golden", action="store_true", help="skip golden.json (tiny only)")
    ap.add_argument("--out", required=True, type=Path, help="output folder (replaced)")
    args = ap.parse_args(argv)
    if args.size == "full" and args.kind != "sd15":
        ap.error("--size full is only defined for --kind sd15")
    return args


def peak_rss_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def main(argv=None):
    args = parse(argv)
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    out = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()
    pipe = Pipeline(args.kind, args.size, half=args.fp16, timestep_dtype=args.timestep_dtype)
    pipe.write_configs(out)
    pipe.export_text_encoders(out)
    pipe.export_vae(out)
    if args.size == "tiny" and not args.no_golden:
        golden.write(pipe, out)
    unet_started = time.monotonic()
    if args.size == "full":
        print(f"unet built ({sum(p.numel() for p in pipe.unet.parameters()) / 1e6:.1f} M parameters, "
              f"{pipe.build_seconds:.0f} s); exporting", flush=True)
        check = pipe.export_unet_large(out)
        print(f"unet/model.onnx checked: {check}")
    else:
        pipe.export_unet(out)
    unet_seconds = time.monotonic() - unet_started
    del pipe
    gc.collect()
    total = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({total / 2 ** 20:.1f} MiB) in {time.monotonic() - started:.0f} s "
          f"(unet export {unet_seconds:.0f} s, peak RSS {peak_rss_gib():.1f} GiB)")


if __name__ == "__main__":
    main()
