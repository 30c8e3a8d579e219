package unit_test

import (
	"fmt"

	"github.com/tributary-iot/tributary/reading/unit"
)

func ExampleConvert() {
	// Tasmota's BME280 with TempUnit "F" and PressureUnit "mmHg".
	c, _ := unit.Convert(70.7, "F", "Cel")
	p, _ := unit.Convert(760, "mmHg", "hPa")
	_, err := unit.Convert(40, "%RH", "Cel")
	fmt.Println(c, p)
	fmt.Println(err)
	// Output:
	// 21.5 1013.2472
	// "%RH" (ratio) to "Cel" (temperature): units of different quantities
}

func ExampleNormalize() {
	for _, s := range []string{"°C", "%RH", "inHg", "ppm", "Wh", "furlong"} {
		code, known := unit.Normalize(s)
		fmt.Printf("%s -> %s %v\n", s, code, known)
	}
	// Output:
	// °C -> Cel true
	// %RH -> % true
	// inHg -> [in_i'Hg] true
	// ppm -> [ppm] true
	// Wh -> Wh true
	// furlong -> furlong false
}
