"""transformers on the same machine, in the same call: the peer that bench/gpu/run.sh measures against.

  peer.py forward --model DIR --dtypes float32,bfloat16 --batches 1,64,256
  peer.py e2e --model DIR --images DIR --batch 64 --workers 16 --dtype bfloat16
  peer.py compare --model DIR --npy OURS.npy IMAGE...   (transformers' pooled, PIL backend, float32, no TF32)
Needs PyTorch and transformers >= 5 (IJepaModel, ViTImageProcessor = torchvision backend, ViTImageProcessorPil).
"""
import argparse, os, sys, time

import numpy as np
import torch
from transformers import IJepaModel

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def forward(args):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    for name in args.dtypes.split(","):
        model = IJepaModel.from_pretrained(args.model, torch_dtype=DTYPES[name]).cuda().eval()
        for batch in [int(b) for b in args.batches.split(",")]:
            x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=DTYPES[name])
            times = []
            with torch.inference_mode():
                for i in range(args.repeats + 1):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    model(pixel_values=x)
                    torch.cuda.synchronize()
                    if i:
                        times.append(time.perf_counter() - t)
            print(f"  transformers {name:<8} batch {batch:3}: {batch / sorted(times)[len(times) // 2]:8.1f} images/s", flush=True)
        del model
        torch.cuda.empty_cache()


class Folder(torch.utils.data.Dataset):
    def __init__(self, files, processor):
        self.files, self.processor = files, processor

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from PIL import Image
        with Image.open(self.files[i]) as image:
            return self.processor(images=image.convert("RGB"), return_tensors="pt")["pixel_values"][0]


def e2e(args):
    from transformers import ViTImageProcessor
    files = sorted(os.path.join(args.images, f) for f in os.listdir(args.images))
    processor = ViTImageProcessor.from_pretrained(args.model)
    loader = torch.utils.data.DataLoader(Folder(files, processor), batch_size=args.batch, num_workers=args.workers,
                                         pin_memory=True, persistent_workers=False, prefetch_factor=4 if args.workers else None)
    dtype = DTYPES[args.dtype]
    model = IJepaModel.from_pretrained(args.model, torch_dtype=dtype).cuda().eval()
    done, start, warm = 0, time.perf_counter(), None
    with torch.inference_mode():
        for pixels in loader:
            out = model(pixel_values=pixels.cuda(non_blocking=True).to(dtype))
            out.last_hidden_state.mean(1).float().cpu()
            done += pixels.shape[0]
            if warm is None and done >= 2 * args.batch:
                warm, warm_done = time.perf_counter(), done
    end = time.perf_counter()
    steady = (done - warm_done) / (end - warm) if warm else float("nan")
    print(f"  transformers+DataLoader {args.dtype} batch {args.batch} workers {args.workers}: {done / (end - start):.1f} images/s overall, "
          f"{steady:.1f} steady (after 2 batches), {done} images", flush=True)


def compare(args):
    from PIL import Image
    from transformers import ViTImageProcessorPil
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    processor = ViTImageProcessorPil.from_pretrained(args.model)
    model = IJepaModel.from_pretrained(args.model, torch_dtype=torch.float32).cuda().eval()
    images = [Image.open(f).convert("RGB") for f in args.images]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"].cuda()
    with torch.inference_mode():
        theirs = model(pixel_values=pixels).last_hidden_state.mean(1).double().cpu().numpy()
    ours = np.load(args.npy).astype(np.float64)
    rel = np.abs(ours - theirs).max() / np.abs(theirs).max()
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"  ours vs transformers (float32, PIL backend, {len(images)} photos): max |diff| / max |ref| {rel:.2e}, min cosine {cos.min():.8f}", flush=True)


parser = argparse.ArgumentParser()
sub = parser.add_subparsers(dest="command", required=True)
p = sub.add_parser("forward"); p.add_argument("--model"); p.add_argument("--dtypes", default="float32,bfloat16")
p.add_argument("--batches", default="1,64,256"); p.add_argument("--repeats", type=int, default=5)
p = sub.add_parser("e2e"); p.add_argument("--model"); p.add_argument("--images"); p.add_argument("--batch", type=int, default=64)
p.add_argument("--workers", type=int, default=16); p.add_argument("--dtype", default="bfloat16")
p = sub.add_parser("compare"); p.add_argument("--model"); p.add_argument("--npy"); p.add_argument("images", nargs="+")
args = parser.parse_args()
{"forward": forward, "e2e": e2e, "compare": compare}[args.command](args)
