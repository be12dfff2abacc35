namespace IJepa.Tests;

/// <summary>SHA-256 verification of checkpoint files before loading.</summary>
public class CheckpointIntegrityTests
{
    private const string AbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; // FIPS 180-2 test vector

    [Fact]
    public void The_digest_is_the_standard_sha256()
    {
        using TempFolder folder = TestData.NewFolder();
        File.WriteAllText(folder.File("abc.txt"), "abc");
        Assert.Equal(AbcSha256, CheckpointIntegrity.ComputeSha256(folder.File("abc.txt")));
        CheckpointIntegrity.Verify(folder.File("abc.txt"), AbcSha256.ToUpperInvariant());
    }

    [Fact]
    public void A_matching_digest_loads_and_a_wrong_one_is_refused_naming_the_file_and_both_digests()
    {
        using TempFolder model = TestData.CopyModel("ijepa_tiny_p14");
        string weights = model.File("model.safetensors");
        string actual = CheckpointIntegrity.ComputeSha256(weights);
        using (IJepaEncoder encoder = IJepaEncoder.Load(model.Path, new IJepaEncoderOptions { ExpectedSha256 = new Dictionary<string, string> { ["model.safetensors"] = actual } }))
        {
            Assert.Equal(48, encoder.Dimension);
        }

        var error = Assert.Throws<IJepaCheckpointException>(() => IJepaEncoder.Load(model.Path,
            new IJepaEncoderOptions { ExpectedSha256 = new Dictionary<string, string> { ["model.safetensors"] = AbcSha256 } }));
        Assert.Equal(weights, error.Path);
        Assert.Contains("SHA-256 mismatch", error.Message, StringComparison.Ordinal);
        Assert.Contains(AbcSha256, error.Message, StringComparison.Ordinal);
        Assert.Contains(actual, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_digests_missing_files_and_paths_outside_the_folder_are_clear_errors()
    {
        using TempFolder model = TestData.CopyModel("ijepa_tiny_p14");
        Assert.Throws<ArgumentException>(() => CheckpointIntegrity.Verify(model.File("model.safetensors"), "not-a-digest"));
        Assert.Throws<ArgumentException>(() => CheckpointIntegrity.Verify(model.File("model.safetensors"), AbcSha256[..63]));
        var missing = Assert.Throws<IJepaCheckpointException>(() =>
            CheckpointIntegrity.VerifyFolder(model.Path, new Dictionary<string, string> { ["model-00001-of-00002.safetensors"] = AbcSha256 }));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() =>
            CheckpointIntegrity.VerifyFolder(model.Path, new Dictionary<string, string> { ["../outside.safetensors"] = AbcSha256 }));
    }

    [Fact]
    public void A_corrupted_byte_changes_the_digest()
    {
        using TempFolder model = TestData.CopyModel("ijepa_tiny_p14");
        string weights = model.File("model.safetensors");
        string before = CheckpointIntegrity.ComputeSha256(weights);
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);
        Assert.Throws<IJepaCheckpointException>(() => CheckpointIntegrity.Verify(weights, before));
    }
}
