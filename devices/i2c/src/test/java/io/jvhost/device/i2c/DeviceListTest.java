package io.jvhost.device.i2c;

import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DeviceListTest
{
    @Test
    void readsVhostDeviceI2csListsWithNumbersNamesAndDecimalAddresses()
    {
        assertThat(DeviceList.parse("6:32:41,i915 gmbus dpb:10")).containsExactly(
            new DeviceList.Bus("6", List.of(new DeviceList.Client(32, "", 0), new DeviceList.Client(41, "", 0))),
            new DeviceList.Bus("i915 gmbus dpb", List.of(new DeviceList.Client(10, "", 0))));
    }

    @Test
    void readsTheSimulatedBusWithHexAddressesAndClientKinds()
    {
        final List<DeviceList.Bus> buses = DeviceList.parse("sim:0x50=eeprom:0x48=lm75/42.5:73=lm75");
        assertThat(buses).hasSize(1);
        assertThat(buses.get(0).simulated()).isTrue();
        assertThat(buses.get(0).clients()).containsExactly(new DeviceList.Client(0x50, "eeprom", 0),
            new DeviceList.Client(0x48, "lm75", 42.5), new DeviceList.Client(73, "lm75", 25));
    }

    @Test
    void refusesWhatVhostDeviceI2cRefusesAndBadSimulatedClients()
    {
        assertThatThrownBy(() -> DeviceList.parse("1:32,1:33")).hasMessageContaining("bus '1' is listed twice");
        assertThatThrownBy(() -> DeviceList.parse("1:32,2:32")).hasMessageContaining("address 32 is listed twice");
        assertThatThrownBy(() -> DeviceList.parse("1:128")).hasMessageContaining("0..127, got 128");
        assertThatThrownBy(() -> DeviceList.parse("1:x")).hasMessageContaining("'x' is not an I2C address");
        assertThatThrownBy(() -> DeviceList.parse(":32")).hasMessageContaining("names no bus");
        assertThatThrownBy(() -> DeviceList.parse(" ")).hasMessageContaining("empty");
        assertThatThrownBy(() -> DeviceList.parse("1:32=eeprom")).hasMessageContaining("only the simulated bus");
        assertThatThrownBy(() -> DeviceList.parse("sim:0x50")).hasMessageContaining("needs its client");
        assertThatThrownBy(() -> DeviceList.parse("sim:0x48=lm75/200")).hasMessageContaining("-55..125");
        assertThatThrownBy(() -> DeviceList.parse("sim:0x48=lm75/hot")).hasMessageContaining("must be a number");
    }
}
