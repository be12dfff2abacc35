using static TorchSharp.torch;

namespace IJepa.Model;

/// <summary>
/// The tensors of one forward pass. It owns them: dispose it (or take a tensor with
/// <see cref="Tensor.DetachFromDisposeScope"/> semantics by cloning) when done.
/// </summary>
public sealed class IJepaModelOutput : IDisposable
{
    internal IJepaModelOutput(Tensor lastHiddenState, Tensor pooled, IReadOnlyList<Tensor>? hiddenStates)
    {
        LastHiddenState = lastHiddenState;
        Pooled = pooled;
        HiddenStates = hiddenStates;
    }

    /// <summary>Patch embeddings after the final LayerNorm, [B, N, D].</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>Mean of <see cref="LastHiddenState"/> over the N tokens, [B, D].</summary>
    public Tensor Pooled { get; }

    /// <summary>
    /// With <see cref="IJepaForwardOptions.OutputHiddenStates"/>: L + 1 tensors [B, N, D]; index 0 is
    /// the embeddings output, index k the output of block k (before the final LayerNorm). Otherwise null.
    /// </summary>
    public IReadOnlyList<Tensor>? HiddenStates { get; }

    /// <summary>
    /// The I-JEPA paper's feature for transfer tasks: the token means of the last
    /// <paramref name="blocks"/> block outputs, concatenated, [B, blocks·D]. The caller owns the result.
    /// </summary>
    /// <exception cref="InvalidOperationException">Hidden states were not requested.</exception>
    public Tensor LastBlocksMean(int blocks = 4)
    {
        if (HiddenStates is null)
        {
            throw new InvalidOperationException("LastBlocksMean needs the hidden states: set IJepaForwardOptions.OutputHiddenStates.");
        }
        int layers = HiddenStates.Count - 1;
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blocks, layers);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        Tensor[] means = HiddenStates.Skip(layers + 1 - blocks).Select(h => h.mean([1])).ToArray();
        return cat(means, 1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        LastHiddenState.Dispose();
        Pooled.Dispose();
        if (HiddenStates != null)
        {
            foreach (Tensor t in HiddenStates)
            {
                t.Dispose();
            }
        }
    }
}
