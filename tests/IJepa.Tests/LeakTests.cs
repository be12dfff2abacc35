using TorchSharp;

namespace IJepa.Tests;

/// <summary>Native memory: every tensor a forward pass makes is released.</summary>
public class LeakTests
{
    [Fact]
    public void Two_hundred_batches_leave_no_live_tensors_behind()
    {
        using IJepaModel model = IJepaModel.FromPretrained(TestData.Reference("ijepa_tiny_p14"));
        using Tensor pixels = randn(2, 3, 70, 70);
        using Tensor other = randn(1, 3, 84, 112);
        var options = new IJepaForwardOptions { OutputHiddenStates = true };
        for (int i = 0; i < 5; i++)
        {
            using IJepaModelOutput warm = model.Forward(pixels, options);
        }

        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 200; i++)
        {
            using IJepaModelOutput output = model.Forward(pixels, options);
            using Tensor features = output.LastBlocksMean();
        }
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        // Interpolated positions take another path through the embeddings.
        for (int i = 0; i < 20; i++)
        {
            using IJepaModelOutput output = model.Forward(other, new IJepaForwardOptions { InterpolatePosEncoding = true });
        }
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
