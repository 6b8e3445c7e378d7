using LuksVirt.Interop.Secrets;

namespace LuksVirt.Core.KeyManagement;

/// <summary>A planned key together with its bytes.</summary>
internal sealed record GeneratedKey(PlannedKey Plan, SecretBuffer Secret);

/// <summary>
/// Fresh printable keys for a <see cref="KeySlotLayout"/>: 64 random base64url characters each
/// (384 bits), text that both QEMU and dm-crypt accept. Full entropy is why their slots may use
/// the minimal PBKDF2 cost. Disposing zeroes them all.
/// </summary>
internal sealed class GeneratedKeys : IDisposable
{
    public const int KeyCharacters = 64;

    private GeneratedKeys(IReadOnlyList<GeneratedKey> keys) => Keys = keys;

    public IReadOnlyList<GeneratedKey> Keys { get; }

    public static GeneratedKeys Generate(KeySlotLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var keys = new List<GeneratedKey>();
        try
        {
            foreach (var plan in layout.Keys)
            {
                keys.Add(new GeneratedKey(plan, SecretBuffer.GeneratePrintableKey(KeyCharacters)));
            }
        }
        catch
        {
            keys.ForEach(k => k.Secret.Dispose());
            throw;
        }

        return new GeneratedKeys(keys);
    }

    public void Dispose()
    {
        foreach (var key in Keys)
        {
            key.Secret.Dispose();
        }
    }
}
