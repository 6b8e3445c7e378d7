namespace LuksVirt.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void Interop_assembly_loads() => Assert.Equal("LuksVirt.Interop", typeof(LuksVirt.Interop.Secrets.SecretBuffer).Assembly.GetName().Name);
}
