namespace LuksVirt.Core.Usb;

/// <summary>FAT variant, decided by the cluster count alone as Microsoft's specification says.</summary>
public enum FatType
{
    Fat12,
    Fat16,
    Fat32,
}
