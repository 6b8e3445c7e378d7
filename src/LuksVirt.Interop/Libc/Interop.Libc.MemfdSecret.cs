using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>memfd_secret(2)'s number: 447 in the generic table x86-64 and AArch64 share
        /// (Linux 5.14+). glibc has no wrapper, so it is called through syscall(2).</summary>
        private const nint SysMemfdSecret = 447;

        /// <summary>memfd_secret's only flag, FD_CLOEXEC's open(2) twin.</summary>
        private const nuint MemfdSecretCloexec = 0x80000;

        // syscall is variadic in C; on x86-64 and AArch64 Linux variadic integer arguments travel
        // in the same registers as fixed ones, so a fixed signature calls it correctly.
        [LibraryImport(Libraries.Libc, EntryPoint = "syscall", SetLastError = true)]
        private static partial nint Syscall(nint number, nuint argument);

        /// <summary>A descriptor of a new, empty secret-memory file (close-on-exec), or -1 with
        /// errno set: ENOSYS where the kernel lacks it or it is disabled (secretmem.enable=0),
        /// EPERM or ENOSYS where a seccomp filter forbids it. Only x86-64 and AArch64 are tried.</summary>
        internal static int MemfdSecret()
        {
            if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
            {
                Marshal.SetLastPInvokeError(Errno.ENOSYS);
                return -1;
            }

            return (int)Syscall(SysMemfdSecret, MemfdSecretCloexec);
        }
    }
}
