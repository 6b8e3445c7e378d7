using LuksVirt.Interop.Secrets;

namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    /// <summary>The volume (master) key, unlocked by <paramref name="key"/>, written by
    /// libcryptsetup straight into a fresh <see cref="SecretBuffer"/> the caller disposes.</summary>
    public unsafe SecretBuffer GetVolumeKey(ReadOnlySpan<byte> key, int slot = AnySlot)
    {
        RequireKey(key, nameof(key));
        var handle = Handle;
        var volumeKey = SecretBuffer.Allocate(VolumeKeyBytes);
        var handedOver = false;
        try
        {
            var length = (nuint)volumeKey.Length;
            int result;
            fixed (byte* target = volumeKey.WritableSpan)
            fixed (byte* passphrase = key)
            {
                CryptsetupLog.BeginCall();
                result = Interop.Cryptsetup.VolumeKeyGet(handle, slot, target, &length, passphrase, (nuint)key.Length);
            }

            if (result < 0)
            {
                throw CryptsetupErrors.Create("crypt_volume_key_get", result, SlotSubject(slot), CryptCall.KeyCheck);
            }

            if (length == (nuint)volumeKey.Length)
            {
                handedOver = true;
                return volumeKey;
            }

            // Not for LUKS (the size is fixed at format), but never hand out trailing zeros.
            return SecretBuffer.CopyOf(volumeKey.Span[..(int)length]);
        }
        finally
        {
            if (!handedOver)
            {
                volumeKey.Dispose();
            }
        }
    }
}
