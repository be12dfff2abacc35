#!/usr/bin/env python3
"""Breaks the model on purpose, one way at a time, and runs ReferenceTests against each break: every mutant
must fail a test (issue 14: a wrong eps, a wrong GELU, a swapped norm, a transposed weight). Restores the
source after each. Run from the repository root; prints a table (committed under bench/results/).

    python3 tests/mutants/reference_mutants.py
"""
import pathlib
import subprocess
import sys

MUTANTS = [
    ("layer_norm_eps ignored (transformers' default 1e-12 instead)", "src/IJepa/Model/IJepaConfig.cs",
     'LayerNormEps = Double(root, "layer_norm_eps", problems, 1e-12),',
     'LayerNormEps = 1e-12,'),
    ("tanh-approximated GELU instead of erf", "src/IJepa/Model/IJepaLayer.cs",
     '_tanhGelu = config.HiddenAct != "gelu";',
     '_tanhGelu = true;'),
    ("layernorm_before and layernorm_after swapped", "src/IJepa/Model/IJepaLayer.cs",
     'Tensor h = _attention.Forward(_layernormBefore.Forward(x)).add_(x);\n        Tensor activated = _intermediate.ForwardGelu(_layernormAfter.Forward(h)',
     'Tensor h = _attention.Forward(_layernormAfter.Forward(x)).add_(x);\n        Tensor activated = _intermediate.ForwardGelu(_layernormBefore.Forward(h)'),
    ("square linear weights transposed (query, key, value, attention output)", "src/IJepa/Model/Linear.cs",
     'Tensor? fused = OneDnnLinear.TryForward(input, _packed ?? _weight, _bias, gelu);',
     'using Tensor mutant = _weight.shape[0] == _weight.shape[1] ? _weight.t().contiguous() : _weight.alias();\n'
     '        Tensor? fused = OneDnnLinear.TryForward(input, mutant, _bias, gelu);\n'
     '        if (fused is null) { return nn.functional.linear(input, mutant, _bias) is var o && gelu is GELU.Approximate a ? o.gelu_(a) : o; }'),
]


def main():
    rows = []
    for name, path, old, new in MUTANTS:
        file = pathlib.Path(path)
        source = file.read_text()
        if source.count(old) != 1:
            sys.exit(f"{name}: the code to mutate was not found once in {path}")
        file.write_text(source.replace(old, new))
        try:
            run = subprocess.run(["dotnet", "test", "tests/IJepa.Tests", "-c", "Release",
                                  "--filter", "FullyQualifiedName~ReferenceTests.Float32_matches_the_reference"],
                                 capture_output=True, text=True)
        finally:
            file.write_text(source)
        summary = [l.strip() for l in run.stdout.splitlines() if "Failed!" in l or "Passed!" in l or " error " in l]
        failed = [l.split("(", 1)[1].split(")")[0] for l in run.stdout.splitlines() if l.strip().startswith("Failed IJepa")]
        verdict = "killed" if run.returncode != 0 and failed else ("BUILD ERROR" if run.returncode != 0 else "SURVIVED")
        rows.append((name, verdict, summary[-1] if summary else "", failed))
        print(f"{verdict:9} {name}: {summary[-1] if summary else ''}", flush=True)
        for f in failed:
            print(f"          failed: {f}", flush=True)
    return 0 if all(r[1] == "killed" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
