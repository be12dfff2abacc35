using IJepa.Benchmarks;
using IJepa.Preprocessing;
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

/// <summary>Native memory of the torchvision resize, measured alone in the process (other tests would move the RSS).</summary>
[Collection(nameof(ProcessWide))]
public class TorchvisionResizeMemoryTests
{
    [Fact]
    public void The_torchvision_resize_leaves_no_live_tensors_and_native_memory_flat()
    {
        // Each resize makes libtorch tensors from pooled managed buffers: 300 photos must not grow either side.
        var preprocessor = new ImagePreprocessor(PreprocessingOptions.HuggingFaceDefault);
        var photo = ImageInput.FromFile(Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower_1024x768.jpg"));
        float[] values = new float[preprocessor.ValuesPerImage];
        for (int i = 0; i < 20; i++)
        {
            preprocessor.Preprocess(photo, values);
        }
        long baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        // The resize views the pooled pixels through torch.frombuffer, which pins the array until libtorch frees the
        // storage and calls back; TorchSharp keeps each callback in a static table until then. A view left undisposed
        // would leave its pin and its entry behind.
        var deleters = (System.Collections.ICollection?)typeof(torch).GetField("deleters", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)?.GetValue(null);
        Assert.NotNull(deleters); // TorchSharp 0.107's torch.deleters; a TorchSharp upgrade that moves it fails here
        // The table is the process's: tensors other tests left to the finalizer leave it as they are finalized, so
        // those are collected first, and the count may only fall.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        int deletersBefore = deleters.Count;
        ProcessMemory.ResetPeak();
        long rssBefore = ProcessMemory.Resident();
        for (int i = 0; i < 300; i++)
        {
            preprocessor.Preprocess(photo, values);
        }
        Assert.Equal(baseline, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.True(deleters.Count <= deletersBefore, $"{deleters.Count - deletersBefore} frombuffer callbacks still registered after 300 resizes");
        // 300 leaked 2.4 MB inputs would be 700 MB; allow allocator noise only.
        long grown = ProcessMemory.Peak() - rssBefore;
        Assert.True(grown < 64L * 1024 * 1024, $"peak RSS grew {grown / 1e6:F0} MB over 300 images");
    }
}
