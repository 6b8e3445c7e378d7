namespace LuksVirt.Core.Usb;

/// <summary>Attribute bits of a directory entry (DIR_Attr).</summary>
[Flags]
internal enum FatAttributes : byte
{
    None = 0,
    ReadOnly = 0x01,
    Hidden = 0x02,
    System = 0x04,
    VolumeId = 0x08,
    Directory = 0x10,
    Archive = 0x20,
}
