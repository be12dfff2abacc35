using System.Text.Json;
using IJepa.Checkpoints.Original;
using IJepa.Masking;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>The multi-block mask sampler and the prediction API.</summary>
public class MaskingTests
{
    private static string File(string name) => Path.Combine(AppContext.BaseDirectory, "original", name);

    [Fact]
    public void Sampled_masks_follow_the_papers_multi_block_strategy()
    {
        var sampler = new MultiBlockMaskSampler(16, 16);
        IReadOnlyList<MaskSet> batch = sampler.SampleBatch(8, new Random(7));
        Assert.Equal(8, batch.Count);
        int targetLength = batch[0].Targets[0].Count, contextLength = batch[0].Context.Count;
        foreach (MaskSet set in batch)
        {
            Assert.Equal(4, set.Targets.Count);
            Assert.All(set.Targets, t => Assert.Equal(targetLength, t.Count));
            Assert.Equal(contextLength, set.Context.Count);
            Assert.True(contextLength > 10 && targetLength > 10);
            Assert.All(set.Targets.Append(set.Context), m => Assert.Equal(m.Order(), m));
            Assert.All(set.Targets.Append(set.Context), m => Assert.All(m, i => Assert.InRange(i, 0, 255)));
            // The targets are removed from the context.
            Assert.Empty(set.Context.Intersect(set.Targets.SelectMany(t => t)));
            // A target block before truncation is a rectangle of 15-20 % of the grid (38-51 patches); cut, it is at most that.
            Assert.InRange(targetLength, 11, 51);
        }
        // Seeded: the same seed, the same masks.
        Assert.Equal(JsonSerializer.Serialize(batch), JsonSerializer.Serialize(sampler.SampleBatch(8, new Random(7))));
        Assert.NotEqual(JsonSerializer.Serialize(batch), JsonSerializer.Serialize(sampler.SampleBatch(8, new Random(8))));
    }

    [Fact]
    public void Block_shapes_follow_the_papers_scale_and_aspect_ranges()
    {
        // The paper's rule, restated: one uniform draw u sets keep = ⌊256 · (0.15 + 0.05u)⌋ and aspect 0.75 + 0.75u;
        // a target is round(√(keep·aspect)) × round(√(keep/aspect)). The context block: scale 0.85–1.0, aspect 1,
        // at most 15 × 15 on a 16 × 16 grid, minus the targets.
        var possibleTargets = new HashSet<(int, int)>();
        for (int i = 0; i <= 100_000; i++)
        {
            double u = i / 100_000.0;
            int keep = (int)(256 * (0.15 + (0.05 * u)));
            double aspect = 0.75 + (0.75 * u);
            possibleTargets.Add(((int)Math.Round(Math.Sqrt(keep * aspect), MidpointRounding.ToEven), (int)Math.Round(Math.Sqrt(keep / aspect), MidpointRounding.ToEven)));
        }
        var sampler = new MultiBlockMaskSampler(16, 16);
        for (int seed = 0; seed < 50; seed++)
        {
            foreach (MaskSet set in sampler.SampleBatch(4, new Random(seed)))
            {
                foreach (IReadOnlyList<int> target in set.Targets)
                {
                    (int rows, int columns, int top, int left) = Box(target);
                    Assert.Equal(rows * columns, target.Count); // a whole rectangle: targets are never cut
                    Assert.Contains((rows, columns), possibleTargets);
                    Assert.InRange((double)rows / columns, 0.6, 1.8);
                }
            }
            // One image (no cut to a batch's shortest): the context is a 15 × 15 window minus the targets.
            MaskSet single = sampler.Sample(new Random(seed));
            var targets = single.Targets.SelectMany(x => x).ToHashSet();
            bool found = false;
            for (int top = 0; top <= 1 && !found; top++)
            {
                for (int left = 0; left <= 1 && !found; left++)
                {
                    int[] window = [.. Enumerable.Range(top, 15).SelectMany(r => Enumerable.Range(left, 15).Select(c => (r * 16) + c)).Where(i => !targets.Contains(i))];
                    found = window.SequenceEqual(single.Context);
                }
            }
            Assert.True(found, $"seed {seed}: the context is not a 15 x 15 window minus the targets");
        }
    }

    private static (int Rows, int Columns, int Top, int Left) Box(IReadOnlyList<int> indices)
    {
        int top = indices.Min(i => i / 16), bottom = indices.Max(i => i / 16);
        int left = indices.Min(i => i % 16), right = indices.Max(i => i % 16);
        return (bottom - top + 1, right - left + 1, top, left);
    }

    [Fact]
    public void Impossible_settings_are_refused_rather_than_looping()
    {
        Assert.Throws<ArgumentException>(() => new MultiBlockMaskSampler(6, 6).Sample(new Random(1)));
        Assert.Throws<ArgumentException>(() => new MultiBlockMaskSampler(4, 4, new MultiBlockMaskOptions { MinKeep = 16 }));
    }

    [Fact]
    public void Predictions_and_actual_targets_match_the_reference_per_image()
    {
        using var predictor = IJepaPredictionPipeline.Load(File("tiny-ijepa.pth.tar"), numAttentionHeads: 4, masks: new MultiBlockMaskOptions { MinKeep = 2 });
        string expected = File("expected.safetensors");
        using Tensor pixels = TestData.ReadTensor(expected, "pixel_values");
        using Tensor predicted = TestData.ReadTensor(expected, "predicted");
        using Tensor actual = TestData.ReadTensor(expected, "actual");
        long[][][] context, targets;
        using (SafetensorsFile file = SafetensorsFile.Open(expected))
        {
            context = JsonSerializer.Deserialize<long[][][]>(file.Metadata["masks_enc"])!;
            targets = JsonSerializer.Deserialize<long[][][]>(file.Metadata["masks_pred"])!;
        }
        for (int b = 0; b < 2; b++)
        {
            var masks = new MaskSet(context[0][b].Select(i => (int)i).ToArray(), targets.Select(m => (IReadOnlyList<int>)m[b].Select(i => (int)i).ToArray()).ToArray());
            using Tensor image = pixels[b..(b + 1)];
            JepaPrediction result = predictor.Predict(image, masks);
            Assert.Equal((4, 6, 32), (result.Targets, result.TokensPerTarget, result.Dimension));
            // The reference stacks mask-major over the batch of 2: row m * 2 + b.
            long[] rows = Enumerable.Range(0, 4).Select(m => (long)((m * 2) + b)).ToArray();
            using Tensor index = tensor(rows);
            using Tensor expectedPredicted = predicted.index_select(0, index);
            using Tensor expectedActual = actual.index_select(0, index);
            using Tensor ours = tensor(result.Predicted, [4, 6, 32]);
            using Tensor oursActual = tensor(result.Actual, [4, 6, 32]);
            OriginalCheckpointTests.AssertClose(expectedPredicted, ours, "predicted");
            OriginalCheckpointTests.AssertClose(expectedActual, oursActual, "actual");
            using Tensor cosine = nn.functional.cosine_similarity(expectedPredicted, expectedActual, 2).flatten();
            Assert.True((cosine - tensor(result.Cosine).to(ScalarType.Float64)).abs().max().item<double>() < 1e-4);
        }
    }

    [Fact]
    public void An_image_with_sampled_masks_gives_a_prediction_for_every_hidden_patch()
    {
        using var predictor = IJepaPredictionPipeline.Load(File("tiny-ijepa.pth.tar"), numAttentionHeads: 4, masks: new MultiBlockMaskOptions { MinKeep = 2 });
        JepaPrediction result = predictor.Predict(ImageInput.FromFile(Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png")), seed: 3);
        Assert.Equal(result.Targets * result.TokensPerTarget * 32, result.Predicted.Length);
        Assert.All(result.Cosine, c => Assert.InRange(c, -1.0001f, 1.0001f));
        Assert.Equal(result.Masks, predictor.Predict(ImageInput.FromFile(Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png")), seed: 3).Masks, new MaskComparer());
    }

    private sealed class MaskComparer : IEqualityComparer<MaskSet>
    {
        public bool Equals(MaskSet? x, MaskSet? y) => JsonSerializer.Serialize(x) == JsonSerializer.Serialize(y);

        public int GetHashCode(MaskSet obj) => 0;
    }
}
