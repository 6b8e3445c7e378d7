using System.Runtime.InteropServices;

namespace LuksVirt.Tests.Cryptsetup;

/// <summary>The structs handed to libcryptsetup match /usr/include/libcryptsetup.h on x86-64
/// (sizes and offsets taken from gcc's sizeof/offsetof on that header).</summary>
public sealed class CryptsetupNativeLayoutTests
{
    [Fact]
    public void Pbkdf_type_matches_struct_crypt_pbkdf_type()
    {
        Assert.Equal(40, Marshal.SizeOf<LuksVirt.Interop.Interop.Cryptsetup.CryptPbkdfType>());
        Assert.Equal(32, Marshal.OffsetOf<LuksVirt.Interop.Interop.Cryptsetup.CryptPbkdfType>(nameof(LuksVirt.Interop.Interop.Cryptsetup.CryptPbkdfType.Flags)));
    }

    [Fact]
    public void Luks1_params_match_struct_crypt_params_luks1()
    {
        Assert.Equal(24, Marshal.SizeOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks1>());
        Assert.Equal(16, Marshal.OffsetOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks1>(nameof(LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks1.DataDevice)));
    }

    [Fact]
    public void Luks2_params_match_struct_crypt_params_luks2()
    {
        Assert.Equal(64, Marshal.SizeOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2>());
        Assert.Equal(40, Marshal.OffsetOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2>(nameof(LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2.SectorSize)));
        Assert.Equal(48, Marshal.OffsetOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2>(nameof(LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2.Label)));
        Assert.Equal(56, Marshal.OffsetOf<LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2>(nameof(LuksVirt.Interop.Interop.Cryptsetup.CryptParamsLuks2.Subsystem)));
    }
}
