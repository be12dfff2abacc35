#!/usr/bin/env bash
# The GPU benchmark in one device call (fits 6 minutes on the H200 machine): forward float32/bfloat16 at batch
# 1/64/256 with a per-block profile, end to end on real photos in exact and fast mode (FeatureDump) against
# transformers + DataLoader, float32 against transformers' own output, and bfloat16 against float32.
# Everything runs on the machine's PyTorch libtorch through IJEPA_LIBTORCH (no LD_LIBRARY_PATH).
#
# Here, once:  bench/photos/get-photos.sh && ../shared/gpu/pack.sh samples/IJepa.FeatureDump bench/IJepa.Benchmarks
# Then one device call, from the project root, carry [".gpu", "bench/results/tmp/photos"]:
#   bash bench/gpu/run.sh            -> $OUT/gpu-DATE.md (copy it to bench/results/)
set -uo pipefail
cd "$(dirname "$0")/../.."
start=$SECONDS
out=${OUT:-/tmp/out}; mkdir -p "$out"
report="$out/gpu-$(date -u +%Y-%m-%d).md"
log() { echo "$*" | tee -a "$report"; }
step() { log ""; log "## $1 (t=$((SECONDS - start)) s)"; }

source .gpu/on-device.sh                       # .NET, the apps, TORCH_LIB
unset LD_LIBRARY_PATH                          # the libtorch-folder route, not the loader path
export IJEPA_LIBTORCH=$TORCH_LIB
model=/tmp/vith; photos=bench/results/tmp/photos; many=/tmp/photos-1920
dump() { dotnet /tmp/gpu/IJepa.FeatureDump/IJepa.FeatureDump.dll "$@"; }
bench() { dotnet /tmp/gpu/IJepa.Benchmarks/IJepa.Benchmarks.dll "$@"; }

log "# GPU benchmark $(date -u +%Y-%m-%dT%H:%MZ)"
log ""
log '```'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$report"
python3 -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)' 2>&1 | tee -a "$report"
echo "cores $(nproc); IJEPA_LIBTORCH=$IJEPA_LIBTORCH" | tee -a "$report"
ijepa_vith $model >/dev/null 2>&1 && echo "random ViT-H/14 written to $model" | tee -a "$report"
mkdir -p $many; i=0
while [ $i -lt 1920 ]; do for f in $photos/*.jpg; do [ $i -ge 1920 ] && break; cp "$f" "$many/$(printf %04d $i)-$(basename "$f")"; i=$((i + 1)); done; done
echo "photos: $(ls $photos | wc -l) originals cycled to $(ls $many | wc -l) files" | tee -a "$report"
log '```'

step "Forward alone (images/s, median of 5)"
log '```'
timeout 100 python3 bench/gpu/peer.py forward --model $model --dtypes float32,bfloat16 --batches 1,64,256 2>&1 | grep -v Warning | tee -a "$report"
timeout 120 bench gpu-forward --model $model --device cuda --dtypes float32,bfloat16 --batches 1,64,256 --profile 2>&1 | tee -a "$report"
log '```'

step "End to end, 1,920 photo files (bfloat16)"
log '```'
timeout 60 python3 bench/gpu/peer.py e2e --model $model --images $many --batch 64 --workers 16 --dtype bfloat16 2>&1 | grep -v Warning | tee -a "$report"
for args in "--batch 64" "--batch 256" "--batch 64 --fast-decode" "--batch 256 --fast-decode"; do
  echo "FeatureDump $args:" | tee -a "$report"
  timeout 60 dump --model $model --device cuda --dtype bfloat16 $args --out /tmp/e2e.npy $many 2>&1 | grep -E '^(done|error)' | tee -a "$report"
done
log '```'

step "Agreement"
log '```'
sample=$(ls $photos/*.jpg | head -8)
timeout 60 dump --model $model --device cuda --dtype float32 --out /tmp/f32.npy $sample | grep -E '^(done|error)'
timeout 60 dump --model $model --device cuda --dtype bfloat16 --out /tmp/bf16.npy $sample | grep -E '^(done|error)'
timeout 90 dump --model $model --device cpu --dtype float32 --out /tmp/cpu.npy $sample | grep -E '^(done|error)'
timeout 60 python3 bench/gpu/peer.py compare --model $model --npy /tmp/f32.npy $sample 2>&1 | grep -v Warning | tee -a "$report"
python3 - <<'PY' 2>&1 | tee -a "$report"
import numpy as np
f32, bf16, cpu = (np.load(f"/tmp/{n}.npy").astype(np.float64) for n in ("f32", "bf16", "cpu"))
cos = lambda a, b: ((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).min()
print(f"  cuda float32 vs cpu float32: max |diff| / max |ref| {np.abs(f32 - cpu).max() / np.abs(cpu).max():.2e} (target 1e-4)")
print(f"  cuda bfloat16 vs cuda float32: min pooled cosine {cos(bf16, f32):.6f} (target 0.999)")
PY
log '```'
log ""
log "total $((SECONDS - start)) s"
