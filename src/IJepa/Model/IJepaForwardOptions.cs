namespace IJepa.Model;

/// <summary>What <see cref="IJepaModel.Forward"/> computes besides the last hidden state.</summary>
public sealed record IJepaForwardOptions
{
    /// <summary>The defaults: no hidden states, input must be exactly <see cref="IJepaConfig.ImageSize"/> square.</summary>
    public static IJepaForwardOptions Default { get; } = new();

    /// <summary>
    /// Keep every hidden state: index 0 is the embeddings (patches + positions), index k the output
    /// of block k, before the final LayerNorm. Needed for <see cref="IJepaModelOutput.LastBlocksMean"/>.
    /// </summary>
    public bool OutputHiddenStates { get; init; }

    /// <summary>
    /// Accept inputs of other sizes by resampling the trained position grid bicubically to the input's
    /// patch grid (as transformers' <c>interpolate_pos_encoding=True</c>). Off by default: a wrong size
    /// is then an error rather than a silent change in what the model sees.
    /// </summary>
    public bool InterpolatePosEncoding { get; init; }
}
