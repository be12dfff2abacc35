using IJepa.Masking;
using IJepa.Preprocessing;

namespace IJepa.Tests;

/// <summary>
/// Tests written against mutants that Stryker.NET left alive in src/IJepa/Masking (tests/mutants/Masking.md): the
/// sampler's argument checks and relaxation rule, and the prediction pipeline's inputs and disposal.
/// </summary>
public class MaskingMutantTests
{
    private static string Checkpoint(string name) => Path.Combine(AppContext.BaseDirectory, "original", name);

    private static string Image => Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png");

    private static IJepaPredictionPipeline Load(PreprocessingOptions? preprocessing = null) =>
        IJepaPredictionPipeline.Load(Checkpoint("tiny-ijepa.pth.tar"), numAttentionHeads: 4, preprocessing, new MultiBlockMaskOptions { MinKeep = 2 });

    /// <summary>This thread's live tensors: the finalizer thread cannot move the count, so tensors left to the GC show.</summary>
    private static long LiveTensors => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    [Fact]
    public void The_sampler_refuses_grids_and_options_that_cannot_work_by_name()
    {
        Assert.Equal("gridHeight", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiBlockMaskSampler(1, 8)).ParamName);
        Assert.Equal("gridWidth", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiBlockMaskSampler(8, 1)).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiBlockMaskSampler(8, 8, new MultiBlockMaskOptions { TargetBlocks = 0 })).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentOutOfRangeException>(() => new MultiBlockMaskSampler(8, 8, new MultiBlockMaskOptions { MinKeep = -1 })).ParamName);
        var tooMany = Assert.Throws<ArgumentException>(() => new MultiBlockMaskSampler(4, 5, new MultiBlockMaskOptions { MinKeep = 20 }));
        Assert.Equal("options", tooMany.ParamName);
        Assert.StartsWith("MinKeep 20 leaves no possible block on a 4x5 grid.", tooMany.Message, StringComparison.Ordinal);
        _ = new MultiBlockMaskSampler(2, 2, new MultiBlockMaskOptions { MinKeep = 0, TargetBlocks = 1 });

        var sampler = new MultiBlockMaskSampler(16, 16);
        Assert.Equal("random", Assert.Throws<ArgumentNullException>(() => sampler.SampleBatch(1, null!)).ParamName);
        Assert.Equal("batch", Assert.Throws<ArgumentOutOfRangeException>(() => sampler.SampleBatch(0, new Random(1))).ParamName);
    }

    [Fact]
    public void A_block_of_exactly_MinKeep_patches_is_refused_rather_than_looping()
    {
        // keep = ⌊196 · 0.05⌋ = 9 at aspect 1: 3 × 3 blocks, which never keep more than 9.
        var options = new MultiBlockMaskOptions { TargetScale = (0.05, 0.05), TargetAspectRatio = (1, 1), MinKeep = 9 };
        var error = Assert.Throws<ArgumentException>(() => new MultiBlockMaskSampler(14, 14, options).Sample(new Random(1)));
        Assert.Equal("blocks of 3x3 patches on a 14x14 grid can never keep more than MinKeep = 9; lower MinKeep or raise the scales", error.Message);
        Assert.Equal(9, new MultiBlockMaskSampler(14, 14, options with { MinKeep = 8 }).Sample(new Random(1)).Targets[0].Count);
    }

    [Fact]
    public void With_overlap_allowed_the_context_keeps_the_target_patches()
    {
        // A context of 85-100 % of a 16 x 16 grid cannot miss a target block of 15-20 %.
        var sampler = new MultiBlockMaskSampler(16, 16, new MultiBlockMaskOptions { AllowOverlap = true });
        for (int seed = 0; seed < 10; seed++)
        {
            MaskSet masks = sampler.Sample(new Random(seed));
            Assert.All(masks.Targets, target => Assert.NotEmpty(target.Intersect(masks.Context)));
        }
    }

    [Fact]
    public void The_context_avoids_the_targets_for_twenty_tries_before_the_constraint_is_relaxed()
    {
        // One 3 x 3 target and a 3 x 3 context on an 8 x 8 grid (positions 0..4 per axis); MinKeep 8: only a context
        // clear of the target is kept while the constraint holds. A context clears the target in 42 % of tries on
        // average (never when the target sits in the middle of both axes). Simulated: relaxing after 20 misses
        // leaves about 4 % of images overlapping, relaxing after the first miss about 36 %.
        var options = new MultiBlockMaskOptions
        {
            TargetBlocks = 1,
            TargetScale = (0.15, 0.15),
            TargetAspectRatio = (1, 1),
            ContextScale = (0.15, 0.15),
            MinKeep = 8,
        };
        var sampler = new MultiBlockMaskSampler(8, 8, options);
        int overlapping = 0, relaxedInMiddle = 0;
        for (int seed = 0; seed < 200; seed++)
        {
            MaskSet masks = sampler.Sample(new Random(seed));
            IReadOnlyList<int> target = masks.Targets[0];
            Assert.Equal(9, target.Count);
            // Never a context of MinKeep or fewer: a partly covered one is refused, a relaxed one is whole.
            Assert.Equal(9, masks.Context.Count);
            if (masks.Context.Intersect(target).Any())
            {
                overlapping++;
                relaxedInMiddle += target[0] == (2 * 8) + 2 ? 1 : 0;
            }
        }
        Assert.InRange(overlapping, 1, 30);
        Assert.True(relaxedInMiddle > 0, "a target in the middle leaves no clear context: the constraint must be relaxed");
    }

    [Fact]
    public void The_pipeline_uses_the_preprocessing_and_masks_it_is_given()
    {
        PreprocessingOptions custom = PreprocessingOptions.Paper(42) with { Mean = [0.4f, 0.5f, 0.6f] };
        using (IJepaPredictionPipeline pipeline = Load(custom))
        {
            Assert.Same(custom, pipeline.Preprocessor.Options);
        }
        using IJepaPredictionPipeline paper = Load();
        // The paper's evaluation transform by default (the record's lists compare by reference, so field by field).
        Assert.Equal(PreprocessingOptions.Paper(42).ToString(), paper.Preprocessor.Options.ToString());
        Assert.Equal(PreprocessingOptions.Paper(42).Mean, paper.Preprocessor.Options.Mean);
        var masks = new MaskSet([0, 1, 2, 3, 4, 5, 6, 7], [[20, 21, 22], [33, 34, 35]]);
        JepaPrediction prediction = paper.Predict(ImageInput.FromFile(Image), masks);
        Assert.Same(masks, prediction.Masks);
        Assert.Equal((2, 3), (prediction.Targets, prediction.TokensPerTarget));
        Assert.Equal(prediction.Cosine.Average(), prediction.MeanCosine);
        Assert.NotEqual(prediction.Cosine.Min(), prediction.MeanCosine);
    }

    [Fact]
    public void Predict_says_what_is_wrong_with_its_input()
    {
        using IJepaPredictionPipeline pipeline = Load();
        var masks = new MaskSet([0, 1, 2], [[20, 21], [33, 34]]);
        Assert.Equal("image", Assert.Throws<ArgumentNullException>(() => pipeline.Predict((ImageInput)null!)).ParamName);
        Assert.Equal("pixels", Assert.Throws<ArgumentNullException>(() => pipeline.Predict((Tensor)null!, masks)).ParamName);
        using Tensor one = zeros(1, 3, 42, 42);
        Assert.Equal("masks", Assert.Throws<ArgumentNullException>(() => pipeline.Predict(one, null!)).ParamName);
        foreach (Tensor wrong in new[] { zeros(2, 3, 42, 42), zeros(3, 42, 42) })
        {
            using (wrong)
            {
                var error = Assert.Throws<ArgumentException>(() => pipeline.Predict(wrong, masks));
                Assert.Equal("pixels", error.ParamName);
                Assert.StartsWith($"Predict takes one image [1, 3, H, W]; got [{string.Join(",", wrong.shape)}].", error.Message, StringComparison.Ordinal);
            }
        }
        foreach (MaskSet bad in new[] { new MaskSet([0, 1], []), new MaskSet([0, 1], [[20, 21], [33]]), new MaskSet([], [[20, 21]]) })
        {
            var error = Assert.Throws<ArgumentException>(() => pipeline.Predict(one, bad));
            Assert.Equal("masks", error.ParamName);
            Assert.StartsWith("Masks need a non-empty context and target blocks of one length.", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Loading_and_disposing_release_every_tensor()
    {
        long before = LiveTensors;
        Load().Dispose();
        Assert.Equal(before, LiveTensors);
        // The predictor is missing: the two encoders already loaded are released.
        var error = Assert.Throws<IJepaCheckpointException>(() => IJepaPredictionPipeline.Load(Checkpoint("tiny-no-predictor.pth.tar"), numAttentionHeads: 4));
        Assert.Contains("tiny-no-predictor.pth.tar", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, LiveTensors);
    }
}
