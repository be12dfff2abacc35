#!/usr/bin/env bash
# Mutation testing of one folder of src/IJepa with Stryker.NET (local tool, dotnet-tools.json):
#   tests/mutants/stryker.sh Model [test filter] [extra stryker args]
#   tests/mutants/stryker.sh Model/LayerNorm.cs,Model/Linear.cs "FullyQualifiedName~ReferenceTests"
# The first argument is a folder or a comma-separated list of files (paths under src/IJepa) of one folder; per-file
# scopes with a narrow filter are what fits a shared 2-core machine (a whole-Model run did not finish in 65 minutes).
# Scope keeps a run under an hour on 2 cores: only that folder's files are mutated, the library is built in
# Release, and only the test classes that exercise the folder run (per-test coverage picks the tests per mutant).
# The report lands in bench/results/tmp/stryker-FOLDER/ (gitignored); the summary to commit is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
scope="${1:?usage: tests/mutants/stryker.sh FOLDER|FOLDER/File.cs[,FOLDER/Other.cs] [test filter] [extra stryker args]}"
folder="${scope%%/*}"
mutate=""
IFS=',' read -ra parts <<< "$scope"
for part in "${parts[@]}"; do
  case "$part" in
    *.cs) glob="**/$part" ;;
    *) glob="**/$part/**/*.cs" ;;
  esac
  mutate="$mutate${mutate:+, }\"$glob\""
done
name="$(basename "${parts[0]}" .cs)"
[ "${#parts[@]}" -gt 1 ] && name="$name+$((${#parts[@]} - 1))"
[ "$name" = "$folder" ] || name="$folder-$name"
case "$folder" in
  Model) default_filter="FullyQualifiedName~ReferenceTests|FullyQualifiedName~OneDnnTests|FullyQualifiedName~LeakTests|FullyQualifiedName~CheckpointFolderTests|FullyQualifiedName~OriginalCheckpointTests|FullyQualifiedName~MaskingTests|FullyQualifiedName~EncoderTests" ;;
  Checkpoints) default_filter="FullyQualifiedName~SafetensorsTests|FullyQualifiedName~CheckpointFolderTests|FullyQualifiedName~CheckpointIntegrityTests|FullyQualifiedName~OriginalCheckpointTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~FuzzRegressionTests" ;;
  Preprocessing) default_filter="FullyQualifiedName~PillowFidelityTests|FullyQualifiedName~TransformersBackendTests|FullyQualifiedName~BadImageTests|FullyQualifiedName~DamagedImageTests|FullyQualifiedName~PreprocessorConfigTests|FullyQualifiedName~FuzzRegressionTests|FullyQualifiedName~PipelineTests" ;;
  *) default_filter="" ;;
esac
filter="${2:-$default_filter}"
out="bench/results/tmp/stryker-$name"
mkdir -p "$out"
cat > "$out/stryker-config.json" <<JSON
{
  "stryker-config": {
    "project": "IJepa.csproj",
    "test-projects": ["$(pwd)/tests/IJepa.Tests/IJepa.Tests.csproj"],
    "mutate": [$mutate],
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
start=$(date +%s)
dotnet tool run dotnet-stryker --config-file "../../$out/stryker-config.json" --output "../../$out" "${@:3}"
echo "stryker: $scope took $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s; report in $out/reports"
