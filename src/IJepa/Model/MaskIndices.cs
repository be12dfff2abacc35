using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>Gathering tokens by patch-index masks, as I-JEPA's apply_masks does.</summary>
internal static class MaskIndices
{
    /// <summary>x [B, N, D] and masks of [B, K] indices → [masks × B, K, D], mask-major.</summary>
    public static Tensor Apply(Tensor x, IReadOnlyList<Tensor> masks, Device device)
    {
        if (masks.Count == 0)
        {
            throw new ArgumentException("At least one mask is needed.", nameof(masks));
        }
        long batch = x.shape[0], tokens = x.shape[1], dim = x.shape[2];
        using var scope = NewDisposeScope();
        var gathered = new List<Tensor>(masks.Count);
        foreach (Tensor mask in masks)
        {
            if (mask.dim() != 2 || mask.shape[0] != batch || mask.shape[1] < 1)
            {
                throw new ArgumentException($"A mask must be [batch = {batch}, K >= 1] indices; got [{string.Join(",", mask.shape)}].", nameof(masks));
            }
            Tensor index = mask.to(ScalarType.Int64, device);
            if (index.min().item<long>() < 0 || index.max().item<long>() >= tokens)
            {
                throw new ArgumentException($"Mask indices must lie in 0..{tokens - 1}.", nameof(masks));
            }
            gathered.Add(x.gather(1, index.unsqueeze(-1).expand(batch, index.shape[1], dim)));
        }
        if (gathered.Any(g => g.shape[1] != gathered[0].shape[1]))
        {
            throw new ArgumentException("All masks must keep the same number of tokens (I-JEPA truncates them to the shortest).", nameof(masks));
        }
        return cat(gathered, 0).MoveToOuterDisposeScope();
    }
}
