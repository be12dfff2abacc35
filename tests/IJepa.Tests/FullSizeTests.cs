namespace IJepa.Tests;

/// <summary>ViT-H/14 at full size (random weights, in memory): shapes and parameter count of the real thing.</summary>
public class FullSizeTests
{
    [Fact]
    public void Vit_huge_14_runs_end_to_end()
    {
        using IJepaModel model = IJepaModel.Create(IJepaConfig.VitHuge14);
        long parameters = model.parameters().Sum(p => p.numel());
        // Patch projection + positions + 32 blocks + final LayerNorm: 630,762,240 (the paper's "about 631 M").
        long perBlock = (4 * (1280 * 1280 + 1280)) + (2 * 2 * 1280) + (5120 * 1280 + 5120) + (1280 * 5120 + 1280);
        Assert.Equal((1280 * 3 * 14 * 14) + 1280 + (256 * 1280) + (32 * perBlock) + (2 * 1280), parameters);
        Assert.Equal(630_762_240, parameters);
        model.InitializeRandom(seed: 1);
        using Tensor pixels = randn(1, 3, 224, 224);
        using IJepaModelOutput output = model.Forward(pixels);
        Assert.Equal([1L, 256, 1280], output.LastHiddenState.shape);
        Assert.Equal([1L, 1280], output.Pooled.shape);
        Assert.False(output.LastHiddenState.isnan().any().item<bool>());
    }
}
