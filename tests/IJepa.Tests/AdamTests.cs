using TorchSharp;
using TorchSharp.Modules;
using Adam = IJepa.Training.Adam;
using static TorchSharp.torch;

namespace IJepa.Tests;

/// <summary>
/// IJepa.Training's Adam (the Train sample's linear-probe optimizer) against PyTorch's own torch.optim.Adam
/// (tests/reference/training/generate_adam.py): five steps over a weight and a bias with recorded gradients, one
/// step without a gradient for the bias, and a third parameter whose gradients are as small as eps.
/// </summary>
public class AdamTests
{
    private static string ReferenceFile => Path.Combine(AppContext.BaseDirectory, "training", "adam.safetensors");

    [Fact]
    public void Five_steps_match_torch_optim_Adam()
    {
        using var scope = NewDisposeScope();
        using var weight = new Parameter(Read("init.weight"));
        using var bias = new Parameter(Read("init.bias"));
        using var small = new Parameter(zeros(8));
        using var adam = new Adam([weight, bias, small], learningRate: 1e-3);
        for (int step = 1; step <= 5; step++)
        {
            weight.grad = Read($"step{step}.grad.weight");
            bias.grad = step == 3 ? null : Read($"step{step}.grad.bias");
            small.grad = Read($"step{step}.grad.small");
            adam.Step();
            // Operation for operation as PyTorch's single-tensor Adam, in float32: equal to a few units in the last place
            // (libtorch 2.10 here, 1.13 in the generator; their vectorised kernels may fuse a multiply-add differently).
            AssertClose(Read($"step{step}.weight"), weight, $"weight after step {step}");
            AssertClose(Read($"step{step}.bias"), bias, $"bias after step {step}");
            AssertClose(Read($"step{step}.small"), small, $"small after step {step}");
        }
    }

    [Fact]
    public void ZeroGrad_zeroes_the_gradients_it_finds()
    {
        using var scope = NewDisposeScope();
        using var weight = new Parameter(ones(3));
        using var bias = new Parameter(ones(2));
        using Scalar five = 5f.ToScalar();
        weight.grad = full(3, five);
        using var adam = new Adam([weight, bias], learningRate: 1e-3);
        adam.ZeroGrad();
        Assert.Equal([0f, 0f, 0f], weight.grad!.data<float>().ToArray());
        Assert.Null(bias.grad);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        float[] e = expected.data<float>().ToArray(), a = actual.detach().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
        {
            float ulp = MathF.BitIncrement(Math.Abs(e[i])) - Math.Abs(e[i]);
            Assert.True(Math.Abs(e[i] - a[i]) <= 2 * ulp, $"{what}[{i}]: {a[i]:R}, PyTorch {e[i]:R}");
        }
    }

    private static Tensor Read(string name) => TestData.ReadTensor(ReferenceFile, name);
}
