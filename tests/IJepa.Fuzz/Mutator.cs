using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace IJepa.Fuzz;

/// <summary>
/// Inputs for the fuzzer: valid seed files changed by a few random edits, drawn with CsCheck's
/// generators so that (format, seed, index) always gives the same bytes. Byte edits (flips, interesting
/// values, inserts, deletes, duplicated chunks, truncation, splices) favour the first 64 bytes, where
/// headers live; JSON inputs also get structural edits (values replaced by extremes or wrong types,
/// keys removed).
/// </summary>
public static class Mutator
{
    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x7F, 0x80, 0xFF];
    private static readonly uint[] InterestingInts = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 100_000];

    private static readonly JsonNode?[] InterestingJson =
    [
        null, 0, -1, 1, 2147483648L, -2147483649L, 1e300, -1e-300, 0.5, 65536, 1_000_000_000, "", "x", "F32", "BF16", "I64", true,
        new JsonArray(), new JsonArray(1), new JsonArray(-1, 3), new JsonArray(0, 1L << 40), new JsonArray(1, 2, 3, 4, 5), new JsonObject(),
    ];

    private record struct Edit(int Kind, int A, int B, byte Value);

    private static readonly Gen<Edit> EditGen = Gen.Select(Gen.Int[0, 9], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Byte,
        (kind, a, b, v) => new Edit(kind, a, b, v));

    private static readonly Gen<(int Seed, Edit[] Edits, bool Structural)> InputGen =
        Gen.Select(Gen.Int[0, int.MaxValue], EditGen.Array[1, 8], Gen.Int[0, 2], (s, e, j) => (s, e, j > 0));

    /// <summary>The <paramref name="index"/>-th input of a run: always the same for the same arguments.</summary>
    public static byte[] Generate(IReadOnlyList<byte[]> seeds, bool json, ulong runSeed, long index)
    {
        var pcg = new PCG((uint)(index & 0x7FFFFFFF), runSeed ^ (ulong)index * 0x9E3779B97F4A7C15UL);
        (int seedIndex, Edit[] edits, bool structural) = InputGen.Generate(pcg, null, out _);
        byte[] seed = seeds[seedIndex % seeds.Count];
        if (json && structural && TryStructural(seed, edits, out byte[] changed))
        {
            // Mostly structural, sometimes with a byte edit on top.
            return edits.Length > 6 ? ApplyBytes(changed, edits[..1], seeds) : changed;
        }
        return ApplyBytes(seed, edits, seeds);
    }

    private static byte[] ApplyBytes(byte[] seed, Edit[] edits, IReadOnlyList<byte[]> seeds)
    {
        var data = new List<byte>(seed);
        byte[] word = new byte[4];
        foreach (Edit e in edits)
        {
            if (data.Count == 0)
            {
                data.Add(e.Value);
                continue;
            }
            int pos = (e.A & 1) == 0 ? (e.A >> 1) % Math.Min(data.Count, 64) : (e.A >> 1) % data.Count;
            switch (e.Kind)
            {
                case 0:
                    data[pos] ^= (byte)(1 << (e.B % 8));
                    break;
                case 1:
                    data[pos] = e.Value;
                    break;
                case 2:
                    data[pos] = InterestingBytes[e.B % InterestingBytes.Length];
                    break;
                case 3:
                    if (pos + 4 <= data.Count)
                    {
                        uint value = InterestingInts[e.B % InterestingInts.Length];
                        if ((e.B & 8) == 0)
                        {
                            BinaryPrimitives.WriteUInt32BigEndian(word, value);
                        }
                        else
                        {
                            BinaryPrimitives.WriteUInt32LittleEndian(word, value);
                        }
                        for (int i = 0; i < 4; i++)
                        {
                            data[pos + i] = word[i];
                        }
                    }
                    break;
                case 4:
                    data.InsertRange(pos, Enumerable.Repeat(e.Value, 1 + (e.B % 16)));
                    break;
                case 5:
                    data.RemoveRange(pos, Math.Min(1 + (e.B % 32), data.Count - pos));
                    break;
                case 6:
                    int length = Math.Min(1 + (e.B % 256), data.Count - pos);
                    data.InsertRange(e.B % data.Count, data.GetRange(pos, length));
                    break;
                case 7:
                    data.RemoveRange(pos, data.Count - pos);
                    break;
                case 8:
                    byte[] other = seeds[e.B % seeds.Count];
                    int from = e.B % Math.Max(other.Length, 1);
                    data.RemoveRange(pos, data.Count - pos);
                    data.AddRange(other.AsSpan(from).ToArray());
                    break;
                default:
                    data[pos] = (byte)(data[pos] + 1 + (e.Value % 4));
                    break;
            }
        }
        return [.. data];
    }

    /// <summary>Replaces or removes values inside a JSON document (or inside a safetensors header).</summary>
    private static bool TryStructural(byte[] seed, Edit[] edits, out byte[] result)
    {
        result = seed;
        bool safetensors = seed.Length >= 8 && seed[0] != (byte)'{';
        int headerLength = 0;
        string text;
        if (safetensors)
        {
            headerLength = (int)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(seed), (ulong)(seed.Length - 8));
            text = Encoding.UTF8.GetString(seed, 8, headerLength);
        }
        else
        {
            text = Encoding.UTF8.GetString(seed);
        }
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
        if (root is null)
        {
            return false;
        }
        foreach (Edit e in edits)
        {
            var slots = new List<(JsonNode Parent, object Key)>();
            Collect(root, slots);
            if (slots.Count == 0)
            {
                break;
            }
            (JsonNode parent, object key) = slots[e.A % slots.Count];
            JsonNode? replacement = e.Kind == 9 ? null : InterestingJson[e.B % InterestingJson.Length]?.DeepClone();
            if (parent is JsonObject o && key is string name)
            {
                if (e.Kind == 9)
                {
                    o.Remove(name);
                }
                else
                {
                    o[name] = replacement;
                }
            }
            else if (parent is JsonArray a && key is int i)
            {
                a[i] = replacement;
            }
        }
        byte[] json = Encoding.UTF8.GetBytes(root.ToJsonString());
        if (!safetensors)
        {
            result = json;
            return true;
        }
        byte[] header = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)json.Length);
        result = [.. header, .. json, .. seed.AsSpan(8 + headerLength)];
        return true;
    }

    private static void Collect(JsonNode node, List<(JsonNode, object)> slots)
    {
        switch (node)
        {
            case JsonObject o:
                foreach ((string key, JsonNode? child) in o.ToList())
                {
                    slots.Add((o, key));
                    if (child is not null)
                    {
                        Collect(child, slots);
                    }
                }
                break;
            case JsonArray a:
                for (int i = 0; i < a.Count; i++)
                {
                    slots.Add((a, i));
                    if (a[i] is { } child)
                    {
                        Collect(child, slots);
                    }
                }
                break;
        }
    }
}
