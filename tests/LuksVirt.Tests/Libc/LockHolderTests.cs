using System.Text;
using LuksVirt.Interop.Libc;

namespace LuksVirt.Tests.Libc;

/// <summary>Reading /proc/locks and a holder's command line, which another process chose.</summary>
public sealed class LockHolderTests
{
    private static readonly string[] ProcLocks =
    [
        "1: POSIX  ADVISORY  WRITE 3631 fe:00:843947 0 EOF",
        "2: FLOCK  ADVISORY  WRITE 4000 fe:00:11452421 0 EOF",
        "2: -> FLOCK  ADVISORY  WRITE 4100 fe:00:11452422 0 EOF",
        "3: OFDLCK ADVISORY  WRITE -1 fe:00:11452422 0 EOF",
        "4: FLOCK  ADVISORY  WRITE 4200 fe:01:11452422 0 EOF",
        "5: FLOCK  ADVISORY  WRITE 4321 fe:00:11452422 0 EOF",
    ];

    [Fact]
    public void The_granted_flock_on_the_same_device_and_inode_names_the_holder()
    {
        // Skipped: a waiter ("->"), an OFD lock, the same inode on another device (fe:01).
        Assert.Equal(4321, LockHolder.FindFlockHolder(ProcLocks, major: 0xfe, minor: 0, inode: 11452422));
    }

    [Fact]
    public void No_line_for_the_inode_names_no_holder()
    {
        Assert.Null(LockHolder.FindFlockHolder(ProcLocks, major: 0xfe, minor: 0, inode: 1));
        Assert.Null(LockHolder.FindFlockHolder(["garbage", "", "7: FLOCK ADVISORY WRITE x fe:00:1 0 EOF"], 0xfe, 0, 1));
    }

    [Fact]
    public void A_command_line_is_joined_made_printable_and_cut_short()
    {
        var evil = "luksvirt\0unlock\0\u001b[2J\u202Eevil\0" + new string('a', 500) + "\0";

        var shown = LockHolder.Printable(Encoding.UTF8.GetBytes(evil));

        Assert.Equal("luksvirt unlock ?[2J?evil " + new string('a', LockHolder.MaxCommandChars - 26) + "…", shown);
    }

    [Fact]
    public void An_empty_command_line_is_no_command()
    {
        Assert.Null(LockHolder.Printable([]));
        Assert.Equal("sleep 5", LockHolder.Printable("sleep\05\0"u8));
    }
}
