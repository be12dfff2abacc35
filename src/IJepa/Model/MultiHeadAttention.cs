using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>softmax(q·kᵀ/√d)·v over all heads, with the heads merged back into one [B, N, H·d] tensor.</summary>
internal static class MultiHeadAttention
{
    /// <param name="q">[B, H, N, d]</param>
    /// <param name="k">[B, H, N, d]</param>
    /// <param name="v">[B, H, N, d]</param>
    /// <returns>[B, N, H·d], contiguous.</returns>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v)
    {
        long batch = q.shape[0], heads = q.shape[1], tokens = q.shape[2], headDim = q.shape[3];
        if (q.device_type != DeviceType.CPU)
        {
            using Tensor fused = nn.functional.scaled_dot_product_attention(q, k, v);
            return fused.transpose(1, 2).reshape(batch, tokens, heads * headDim);
        }
        // On the CPU, one image at a time with the softmax spelled out: the [H, N, N] scores of one
        // image stay in cache (ViT-H: 4 MB in float32, against 34 MB for a batch of 8), and the two
        // products go to the GEMM library. On ViT-H at batch 8 libtorch's fused CPU kernel took 40–48 ms
        // per block in float32 and 24–29 ms in bfloat16, this loop 25–31 ms and 13–14 ms (README).
        // One Scalar, held (and so kept alive) until the loop is done: a temporary converted from a double at each
        // call can be finalized while libtorch still reads it, which crashed a FeatureDump run under heavy load
        // ("Expected false to be true" in c10::Scalar::toDouble, from mul).
        using Scalar scale = (1.0 / Math.Sqrt(headDim)).ToScalar();
        Tensor context = empty([batch, tokens, heads, headDim], q.dtype, q.device);
        for (long i = 0; i < batch; i++)
        {
            using var scope = NewDisposeScope();
            Tensor scores = matmul(q[i].mul(scale), k[i].transpose(-1, -2));
            Tensor probabilities = scores.softmax(-1);
            context[i].copy_(matmul(probabilities, v[i]).transpose(0, 1));
        }
        return context.view(batch, tokens, heads * headDim);
    }
}
