namespace LuksVirt.Interop.Cryptsetup;

public sealed partial class CryptDevice
{
    /// <summary>
    /// The encryption sector (one XTS data unit) in bytes: always 512 for LUKS1; for LUKS2 what
    /// crypt_format chose (it may pick 4096 on 4K devices). A LUKS2 container with larger sectors
    /// counts its plain64 IVs in these units (dm-crypt's iv_large_sectors).
    /// </summary>
    public int EncryptionSectorSize
    {
        get
        {
            var size = Interop.Cryptsetup.GetSectorSize(Handle);
            return size > 0 ? size : throw NotLoaded();
        }
    }
}
