using Microsoft.ML.OnnxRuntime;

namespace IJepa.Benchmarks;

/// <summary>
/// ONNX Runtime running the ONNX export of the same checkpoint (bench/onnx/export_onnx.py): the peer a
/// .NET developer without this library would use. Sequential execution, all graph optimizations,
/// intra-op threads equal to ours.
/// </summary>
internal sealed class OnnxPeer : IDisposable
{
    private readonly InferenceSession _session;
    private readonly int _imageSize;

    public OnnxPeer(string modelPath, int threads, int imageSize)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(modelPath, options);
        _imageSize = imageSize;
    }

    /// <summary>Runs a batch of normalized pixels [B, 3, S, S]; returns last_hidden_state and pooled, flattened.</summary>
    public (float[] LastHiddenState, float[] Pooled) Run(float[] pixels, int batch)
    {
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, _imageSize, _imageSize]);
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(new RunOptions(), ["pixel_values"], [input], ["last_hidden_state", "pooled"]);
        return (outputs[0].GetTensorDataAsSpan<float>().ToArray(), outputs[1].GetTensorDataAsSpan<float>().ToArray());
    }

    public void Dispose() => _session.Dispose();
}
