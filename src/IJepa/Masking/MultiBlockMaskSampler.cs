namespace IJepa.Masking;

/// <summary>Settings of the multi-block mask strategy; the defaults are the paper's.</summary>
public sealed record MultiBlockMaskOptions
{
    /// <summary>Target blocks per image (4).</summary>
    public int TargetBlocks { get; init; } = 4;

    /// <summary>Each target block's share of the patches, drawn uniformly (0.15–0.2).</summary>
    public (double Min, double Max) TargetScale { get; init; } = (0.15, 0.2);

    /// <summary>Target aspect ratio height/width, drawn uniformly (0.75–1.5).</summary>
    public (double Min, double Max) TargetAspectRatio { get; init; } = (0.75, 1.5);

    /// <summary>The context block's share of the patches before the targets are removed (0.85–1.0); its aspect ratio is 1.</summary>
    public (double Min, double Max) ContextScale { get; init; } = (0.85, 1.0);

    /// <summary>A block must keep more than this many patches (10).</summary>
    public int MinKeep { get; init; } = 10;

    /// <summary>Whether the context may overlap the targets (false: the targets are removed from it).</summary>
    public bool AllowOverlap { get; init; }
}

/// <summary>
/// I-JEPA's multi-block masking (Assran et al. 2023, section 3): per batch one target block size and one
/// context block size are drawn; per image, <see cref="MultiBlockMaskOptions.TargetBlocks"/> target
/// rectangles are placed at random, then one large context rectangle from which the targets are removed
/// (if too little remains, the constraint is relaxed one target at a time, as the original does after
/// repeated failures). Every list is then cut to the shortest in the batch so the batch stacks. Seeded
/// with .NET's <see cref="Random"/>: deterministic for a seed, but not the same draws as PyTorch's generator.
/// </summary>
public sealed class MultiBlockMaskSampler
{
    private const int TriesBeforeRelaxing = 20;
    private readonly int _height;
    private readonly int _width;

    /// <summary>A sampler for a grid of <paramref name="gridHeight"/> × <paramref name="gridWidth"/> patches.</summary>
    public MultiBlockMaskSampler(int gridHeight, int gridWidth, MultiBlockMaskOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gridHeight, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(gridWidth, 2);
        Options = options ?? new MultiBlockMaskOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.TargetBlocks, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(Options.MinKeep, nameof(options));
        if (Options.MinKeep >= gridHeight * gridWidth)
        {
            throw new ArgumentException($"MinKeep {Options.MinKeep} leaves no possible block on a {gridHeight}x{gridWidth} grid.", nameof(options));
        }
        _height = gridHeight;
        _width = gridWidth;
    }

    /// <summary>The settings.</summary>
    public MultiBlockMaskOptions Options { get; }

    /// <summary>Masks for one image.</summary>
    public MaskSet Sample(Random random) => SampleBatch(1, random)[0];

    /// <summary>Masks for a batch: per image one context and the target blocks, lists cut to the batch's shortest.</summary>
    public IReadOnlyList<MaskSet> SampleBatch(int batch, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        (int h, int w) targetSize = BlockSize(random, Options.TargetScale, Options.TargetAspectRatio);
        (int h, int w) contextSize = BlockSize(random, Options.ContextScale, (1.0, 1.0));
        var targets = new List<List<int>[]>();
        var contexts = new List<List<int>>();
        for (int b = 0; b < batch; b++)
        {
            var blocks = new List<int>[Options.TargetBlocks];
            var complements = new List<bool[]>();
            for (int t = 0; t < blocks.Length; t++)
            {
                (blocks[t], bool[] complement) = Block(random, targetSize, null);
                complements.Add(complement);
            }
            targets.Add(blocks);
            contexts.Add(Block(random, contextSize, Options.AllowOverlap ? null : complements).Indices);
        }
        int keepTargets = targets.SelectMany(t => t).Min(t => t.Count);
        int keepContext = contexts.Min(c => c.Count);
        return [.. Enumerable.Range(0, batch).Select(b => new MaskSet(
            contexts[b].Take(keepContext).ToArray(),
            targets[b].Select(t => (IReadOnlyList<int>)t.Take(keepTargets).ToArray()).ToArray()))];
    }

    private (int H, int W) BlockSize(Random random, (double Min, double Max) scale, (double Min, double Max) aspect)
    {
        // One draw sets both the scale and the aspect ratio, as in the original.
        double u = random.NextDouble();
        double share = scale.Min + (u * (scale.Max - scale.Min));
        int keep = (int)(_height * _width * share);
        double ratio = aspect.Min + (u * (aspect.Max - aspect.Min));
        int h = (int)Math.Round(Math.Sqrt(keep * ratio), MidpointRounding.ToEven);
        int w = (int)Math.Round(Math.Sqrt(keep / ratio), MidpointRounding.ToEven);
        return (Math.Clamp(h, 1, _height - 1), Math.Clamp(w, 1, _width - 1));
    }

    private (List<int> Indices, bool[] Complement) Block(Random random, (int H, int W) size, List<bool[]>? acceptable)
    {
        if (size.H * size.W <= Options.MinKeep)
        {
            throw new ArgumentException($"blocks of {size.H}x{size.W} patches on a {_height}x{_width} grid can never keep more than MinKeep = {Options.MinKeep}; lower MinKeep or raise the scales");
        }
        int relaxed = 0, left = TriesBeforeRelaxing;
        while (true)
        {
            int top = random.Next(0, _height - size.H), start = random.Next(0, _width - size.W);
            var indices = new List<int>(size.H * size.W);
            int constraints = acceptable is null ? 0 : Math.Max(acceptable.Count - relaxed, 0);
            for (int r = top; r < top + size.H; r++)
            {
                for (int c = start; c < start + size.W; c++)
                {
                    int index = (r * _width) + c;
                    bool allowed = true;
                    for (int k = 0; k < constraints && allowed; k++)
                    {
                        allowed = acceptable![k][index];
                    }
                    if (allowed)
                    {
                        indices.Add(index);
                    }
                }
            }
            if (indices.Count > Options.MinKeep)
            {
                bool[] complement = Enumerable.Repeat(true, _height * _width).ToArray();
                for (int r = top; r < top + size.H; r++)
                {
                    for (int c = start; c < start + size.W; c++)
                    {
                        complement[(r * _width) + c] = false;
                    }
                }
                return (indices, complement);
            }
            if (--left == 0)
            {
                relaxed++;
                left = TriesBeforeRelaxing;
            }
        }
    }
}
