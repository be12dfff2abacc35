using static TorchSharp.torch;
namespace IJepa.Tests;
public class SmokeTests
{
    [Fact]
    public void TorchLoads()
    {
        using var a = ones(2, 2);
        using var b = a.matmul(a);
        Assert.Equal(2f, b[0, 0].item<float>());
    }
}
