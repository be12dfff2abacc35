#!/usr/bin/env bash
# Mutation testing of one folder of src/IJepa with Stryker.NET (local tool, dotnet-tools.json):
#   tests/mutants/stryker.sh Model [test filter]
# Scope keeps a run under an hour on 2 cores: only that folder's files are mutated, the library is built in
# Release, and only the test classes that exercise the folder run (per-test coverage picks the tests per mutant).
# The report lands in bench/results/tmp/stryker-FOLDER/ (gitignored); the summary to commit is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
folder="${1:?usage: tests/mutants/stryker.sh FOLDER [test filter]}"
case "$folder" in
  Model) default_filter="FullyQualifiedName~ReferenceTests|FullyQualifiedName~OneDnnTests|FullyQualifiedName~LeakTests|FullyQualifiedName~CheckpointFolderTests|FullyQualifiedName~OriginalCheckpointTests|FullyQualifiedName~MaskingTests|FullyQualifiedName~EncoderTests" ;;
  Checkpoints) default_filter="FullyQualifiedName~SafetensorsTests|FullyQualifiedName~CheckpointFolderTests|FullyQualifiedName~CheckpointIntegrityTests|FullyQualifiedName~OriginalCheckpointTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~FuzzRegressionTests" ;;
  Preprocessing) default_filter="FullyQualifiedName~PillowFidelityTests|FullyQualifiedName~TransformersBackendTests|FullyQualifiedName~BadImageTests|FullyQualifiedName~DamagedImageTests|FullyQualifiedName~PreprocessorConfigTests|FullyQualifiedName~FuzzRegressionTests|FullyQualifiedName~PipelineTests" ;;
  *) default_filter="" ;;
esac
filter="${2:-$default_filter}"
out="bench/results/tmp/stryker-$folder"
mkdir -p "$out"
cat > "$out/stryker-config.json" <<JSON
{
  "stryker-config": {
    "project": "IJepa.csproj",
    "test-projects": ["$(pwd)/tests/IJepa.Tests/IJepa.Tests.csproj"],
    "mutate": ["**/$folder/**/*.cs"],
    "configuration": "Release",
    "coverage-analysis": "perTest",
    "test-case-filter": "$filter",
    "concurrency": ${STRYKER_CONCURRENCY:-2},
    "reporters": ["progress", "json", "html", "markdown"],
    "disable-bail": false
  }
}
JSON
cd src/IJepa
dotnet tool run dotnet-stryker --config-file "../../$out/stryker-config.json" --output "../../$out" "${@:3}"
