using System.Diagnostics;
using System.Globalization;
using IJepa.Model;
using IJepa.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Train;

/// <summary>
/// How good an encoder's features are on Fashion-MNIST, with the test split used only for the final numbers:
/// k-nearest-neighbour classification (k = 20, cosine similarity, the 60,000 training images as the index,
/// majority vote with ties to the larger summed similarity) and a linear probe (softmax regression on
/// standardized features, Adam at 1e-3, batch 256, fixed epochs, no weight decay: nothing is tuned).
/// Features are the mean over patch tokens of the final layer-normed output, as IJepaEncoder pools them.
/// </summary>
internal static class Evaluation
{
    /// <summary>Image <paramref name="index"/> as [1, H, W] floats in 0–1.</summary>
    public static Tensor Gray(FashionMnist data, int index)
    {
        int size = data.Rows * data.Columns;
        using Tensor bytes = tensor(data.Pixels.AsSpan(index * size, size).ToArray(), [1, data.Rows, data.Columns]);
        using Scalar full = 255.0.ToScalar();
        return bytes.to(ScalarType.Float32).div_(full);
    }

    public static int Run(string directory, string? model, bool rawPixels, int probeEpochs, int seed)
    {
        FashionMnist train = FashionMnist.Load(directory, "train");
        FashionMnist test = FashionMnist.Load(directory, "t10k");
        var clock = Stopwatch.StartNew();
        using IJepaModel? encoder = rawPixels ? null : IJepaModel.FromPretrained(model ?? throw new ArgumentException("eval needs --model or --raw-pixels"));
        using Tensor trainFeatures = Features(train, encoder);
        using Tensor testFeatures = Features(test, encoder);
        using Tensor trainLabels = tensor(train.Labels.Select(b => (long)b).ToArray());
        using Tensor testLabels = tensor(test.Labels.Select(b => (long)b).ToArray());
        double featureSeconds = clock.Elapsed.TotalSeconds;
        double knn = Knn(trainFeatures, trainLabels, testFeatures, testLabels, 20);
        double probe = LinearProbe(trainFeatures, trainLabels, testFeatures, testLabels, probeEpochs, seed);
        string name = rawPixels ? "raw pixels" : model!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: features {trainFeatures.shape[1]}-d ({featureSeconds:F1} s); kNN (k=20, cosine) {knn * 100:F2}%; linear probe ({probeEpochs} epochs) {probe * 100:F2}% on {test.Count} test images"));
        return 0;
    }

    private static Tensor Features(FashionMnist data, IJepaModel? encoder)
    {
        const int Chunk = 500;
        var parts = new List<Tensor>();
        try
        {
            for (int start = 0; start < data.Count; start += Chunk)
            {
                using var scope = NewDisposeScope();
                int n = Math.Min(Chunk, data.Count - start);
                Tensor gray = stack(Enumerable.Range(start, n).Select(i => Gray(data, i)).ToArray());
                // The model's preprocessing: mean = std = 0.5, gray replicated to RGB.
                using Scalar half = 0.5.ToScalar();
                Tensor pixels = gray.sub(half).div_(half);
                if (encoder is null)
                {
                    parts.Add(pixels.flatten(1).MoveToOuterDisposeScope());
                    continue;
                }
                using IJepaModelOutput output = encoder.Forward(pixels.expand(-1, 3, -1, -1).contiguous());
                parts.Add(output.Pooled.to(ScalarType.Float32).clone().MoveToOuterDisposeScope());
            }
            return cat(parts, 0);
        }
        finally
        {
            foreach (Tensor part in parts)
            {
                part.Dispose();
            }
        }
    }

    private static double Knn(Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels, int k)
    {
        using var scope = NewDisposeScope();
        Tensor index = nn.functional.normalize(trainFeatures, dim: 1);
        Tensor queries = nn.functional.normalize(testFeatures, dim: 1);
        long correct = 0;
        // Scalars held across the calls (a temporary one can be freed while libtorch reads it; README, Known gaps).
        using Scalar one = 1.ToScalar(), tieWeight = 1e-3.ToScalar();
        for (long start = 0; start < queries.shape[0]; start += 1000)
        {
            using var inner = NewDisposeScope();
            Tensor block = queries.narrow(0, start, Math.Min(1000, queries.shape[0] - start));
            (Tensor similarity, Tensor neighbours) = matmul(block, index.T).topk(k, dim: 1);
            Tensor votes = nn.functional.one_hot(trainLabels[neighbours], 10).to(ScalarType.Float32);
            // Counts decide; the summed similarity (below 1 per neighbour, scaled by 1e-3) only breaks ties.
            Tensor scores = votes.sum(1).add((votes * similarity.unsqueeze(-1)).sum(1).mul(tieWeight), one);
            correct += scores.argmax(1).eq(testLabels.narrow(0, start, block.shape[0])).sum().item<long>();
        }
        return correct / (double)queries.shape[0];
    }

    private static double LinearProbe(Tensor trainFeatures, Tensor trainLabels, Tensor testFeatures, Tensor testLabels, int epochs, int seed)
    {
        using var scope = NewDisposeScope();
        Tensor mean = trainFeatures.mean([0], keepdim: true);
        using Scalar epsilon = 1e-6.ToScalar(), unit = 1.ToScalar();
        Tensor std = trainFeatures.std(0, keepdim: true).add_(epsilon, unit);
        Tensor x = (trainFeatures - mean) / std;
        Tensor xTest = (testFeatures - mean) / std;
        manual_seed(seed);
        using var probe = nn.Linear(x.shape[1], 10);
        // IJepa.Training's Adam: torch.optim.Adam's arithmetic with every Scalar held (TorchSharp's own passes temporaries).
        using var optimizer = new Adam(probe.parameters(), learningRate: 1e-3);
        var random = new Random(seed);
        int n = (int)x.shape[0];
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            int[] order = Enumerable.Range(0, n).ToArray();
            random.Shuffle(order);
            for (int start = 0; start < n; start += 256)
            {
                using var inner = NewDisposeScope();
                Tensor batch = tensor(order.AsSpan(start, Math.Min(256, n - start)).ToArray().Select(i => (long)i).ToArray());
                optimizer.ZeroGrad();
                Tensor loss = nn.functional.cross_entropy(probe.forward(x[batch]), trainLabels[batch]);
                loss.backward();
                optimizer.Step();
            }
        }
        using var noGrad = no_grad();
        return probe.forward(xTest).argmax(1).eq(testLabels).sum().item<long>() / (double)xTest.shape[0];
    }
}
