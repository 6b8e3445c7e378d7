using System.Runtime.InteropServices;

namespace LuksVirt.Interop;

internal static partial class Interop
{
    internal static partial class Libc
    {
        /// <summary>geteuid(2): the user the process acts as (it cannot fail).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "geteuid")]
        internal static partial uint GetEffectiveUserId();
    }
}
