package unit

// Dimensions of the table. Units convert only within one dimension.
const (
	Temperature   = "temperature"
	Ratio         = "ratio" // dimensionless: 1, %, ppm, ppb
	Pressure      = "pressure"
	Power         = "power"
	ApparentPower = "apparent power"
	Energy        = "energy"
	Voltage       = "voltage"
	Current       = "current"
	Charge        = "charge"
	Frequency     = "frequency"
	Illuminance   = "illuminance"
	Length        = "length"
	Time          = "time"
	Speed         = "speed"
	Mass          = "mass"
	Volume        = "volume"
	Flow          = "volume flow"
	MassConc      = "mass concentration"
	Irradiance    = "irradiance"
	Angle         = "angle"
	Rate          = "rate"
	Data          = "information"
	Level         = "level"       // logarithmic, relative: dB; never converted
	PowerLevel    = "power level" // logarithmic, to 1 mW: dBm; never converted
	Acidity       = "acidity"
)

// A Unit is one row of the table: a UCUM code, the spellings read as it,
// and how it converts to the base unit of its dimension:
//
//	base = (v + Pre) * Factor
//
// Pre is zero for every unit but the temperatures (°C and °F are offset
// from kelvin); Factor is the size of the unit in the base unit.
type Unit struct {
	Code      string   // the UCUM code stored
	Name      string   // what it is, in words
	Dimension string   // the quantity it measures
	Factor    float64  // size in the dimension's base unit (the row with Factor 1 and Pre 0)
	Pre       float64  // added before Factor: the zero of the unit, in itself, below the base's
	Aliases   []string // other spellings understood (Tasmota, Zigbee2MQTT, SenML, common use)
}

// table is every unit Tributary understands, by dimension, base unit first.
// The spellings of an alias are matched exactly (case matters, as in UCUM:
// "Pa" is not "PA"), after trimming spaces.
//
// SenML (RFC 8428 section 12.1, RFC 8798) registers units that UCUM spells
// differently; those are aliases here (%RH, %EL, /, dBm, ppm, l, ...).
// SenML's "C" (coulomb) and "F" (farad) are not: the devices that send "C"
// and "F" (Tasmota's TempUnit) mean degrees, so they are aliases of Cel and
// [degF], and coulombs and farads are not understood.
var table = []Unit{
	{Code: "K", Name: "kelvin", Dimension: Temperature, Factor: 1, Aliases: []string{"kelvin", "°K"}},
	{Code: "Cel", Name: "degree Celsius", Dimension: Temperature, Factor: 1, Pre: 273.15, Aliases: []string{"C", "°C", "℃", "degC", "deg C", "celsius", "Celsius"}},
	{Code: "[degF]", Name: "degree Fahrenheit", Dimension: Temperature, Factor: 5.0 / 9, Pre: 459.67, Aliases: []string{"F", "°F", "℉", "degF", "deg F", "fahrenheit", "Fahrenheit"}},

	{Code: "1", Name: "one (dimensionless)", Dimension: Ratio, Factor: 1, Aliases: []string{"/", "count", "{count}"}},
	{Code: "%", Name: "percent (also relative humidity and battery level)", Dimension: Ratio, Factor: 1e-2, Aliases: []string{"%RH", "% RH", "%rH", "%EL", "percent"}},
	{Code: "[ppm]", Name: "part per million", Dimension: Ratio, Factor: 1e-6, Aliases: []string{"ppm", "ppmv"}},
	{Code: "[ppb]", Name: "part per billion", Dimension: Ratio, Factor: 1e-9, Aliases: []string{"ppb", "ppbv"}},

	{Code: "Pa", Name: "pascal", Dimension: Pressure, Factor: 1},
	{Code: "hPa", Name: "hectopascal", Dimension: Pressure, Factor: 100, Aliases: []string{"mbar", "mBar", "millibar"}},
	{Code: "kPa", Name: "kilopascal", Dimension: Pressure, Factor: 1000},
	{Code: "bar", Name: "bar", Dimension: Pressure, Factor: 1e5},
	{Code: "atm", Name: "standard atmosphere", Dimension: Pressure, Factor: 101325},
	// UCUM defines m[Hg] as 133.3220 kPa (so mm[Hg] is 133.322 Pa) and
	// [in_i'Hg] as m[Hg] * 0.0254.
	{Code: "mm[Hg]", Name: "millimetre of mercury", Dimension: Pressure, Factor: 133.322, Aliases: []string{"mmHg", "mm Hg", "torr", "Torr"}},
	{Code: "[in_i'Hg]", Name: "inch of mercury", Dimension: Pressure, Factor: 133.322 * 25.4, Aliases: []string{"inHg", "in Hg"}},
	{Code: "[psi]", Name: "pound per square inch", Dimension: Pressure, Factor: 4.4482216152605 / (0.0254 * 0.0254), Aliases: []string{"psi", "PSI"}},

	{Code: "W", Name: "watt", Dimension: Power, Factor: 1},
	{Code: "mW", Name: "milliwatt", Dimension: Power, Factor: 1e-3},
	{Code: "kW", Name: "kilowatt", Dimension: Power, Factor: 1e3},
	{Code: "VA", Name: "volt-ampere", Dimension: ApparentPower, Factor: 1},
	{Code: "kVA", Name: "kilovolt-ampere", Dimension: ApparentPower, Factor: 1e3},

	{Code: "J", Name: "joule", Dimension: Energy, Factor: 1},
	{Code: "kJ", Name: "kilojoule", Dimension: Energy, Factor: 1e3},
	{Code: "Wh", Name: "watt-hour", Dimension: Energy, Factor: 3600},
	{Code: "kWh", Name: "kilowatt-hour", Dimension: Energy, Factor: 3.6e6},
	{Code: "MWh", Name: "megawatt-hour", Dimension: Energy, Factor: 3.6e9},

	{Code: "V", Name: "volt", Dimension: Voltage, Factor: 1},
	{Code: "mV", Name: "millivolt", Dimension: Voltage, Factor: 1e-3},
	{Code: "kV", Name: "kilovolt", Dimension: Voltage, Factor: 1e3},

	{Code: "A", Name: "ampere", Dimension: Current, Factor: 1},
	{Code: "mA", Name: "milliampere", Dimension: Current, Factor: 1e-3},
	{Code: "A.h", Name: "ampere-hour", Dimension: Charge, Factor: 1, Aliases: []string{"Ah"}},
	{Code: "mA.h", Name: "milliampere-hour", Dimension: Charge, Factor: 1e-3, Aliases: []string{"mAh"}},

	{Code: "Hz", Name: "hertz", Dimension: Frequency, Factor: 1},
	{Code: "kHz", Name: "kilohertz", Dimension: Frequency, Factor: 1e3},
	{Code: "MHz", Name: "megahertz", Dimension: Frequency, Factor: 1e6},

	{Code: "lx", Name: "lux", Dimension: Illuminance, Factor: 1, Aliases: []string{"lux", "Lux"}},

	{Code: "m", Name: "metre", Dimension: Length, Factor: 1},
	{Code: "mm", Name: "millimetre", Dimension: Length, Factor: 1e-3},
	{Code: "cm", Name: "centimetre", Dimension: Length, Factor: 1e-2},
	{Code: "km", Name: "kilometre", Dimension: Length, Factor: 1e3},
	{Code: "[in_i]", Name: "inch", Dimension: Length, Factor: 0.0254, Aliases: []string{"in", "inch"}},
	{Code: "[ft_i]", Name: "foot", Dimension: Length, Factor: 0.3048, Aliases: []string{"ft"}},
	{Code: "[mi_i]", Name: "mile", Dimension: Length, Factor: 1609.344, Aliases: []string{"mi"}},

	{Code: "s", Name: "second", Dimension: Time, Factor: 1, Aliases: []string{"sec", "EL"}},
	{Code: "ms", Name: "millisecond", Dimension: Time, Factor: 1e-3},
	{Code: "min", Name: "minute", Dimension: Time, Factor: 60},
	{Code: "h", Name: "hour", Dimension: Time, Factor: 3600},
	{Code: "d", Name: "day", Dimension: Time, Factor: 86400},

	{Code: "m/s", Name: "metre per second", Dimension: Speed, Factor: 1},
	{Code: "km/h", Name: "kilometre per hour", Dimension: Speed, Factor: 1 / 3.6, Aliases: []string{"kmh", "kph"}},
	{Code: "[mi_i]/h", Name: "mile per hour", Dimension: Speed, Factor: 1609.344 / 3600, Aliases: []string{"mph"}},
	{Code: "[kn_i]", Name: "knot", Dimension: Speed, Factor: 1852.0 / 3600, Aliases: []string{"kn", "kt", "knot"}},

	{Code: "kg", Name: "kilogram", Dimension: Mass, Factor: 1},
	{Code: "g", Name: "gram", Dimension: Mass, Factor: 1e-3},

	{Code: "m3", Name: "cubic metre", Dimension: Volume, Factor: 1, Aliases: []string{"m³"}},
	{Code: "L", Name: "litre", Dimension: Volume, Factor: 1e-3, Aliases: []string{"l"}},
	{Code: "m3/s", Name: "cubic metre per second", Dimension: Flow, Factor: 1},
	{Code: "m3/h", Name: "cubic metre per hour", Dimension: Flow, Factor: 1.0 / 3600, Aliases: []string{"m³/h"}},
	{Code: "L/s", Name: "litre per second", Dimension: Flow, Factor: 1e-3, Aliases: []string{"l/s"}},
	{Code: "L/min", Name: "litre per minute", Dimension: Flow, Factor: 1e-3 / 60, Aliases: []string{"l/min"}},
	{Code: "L/h", Name: "litre per hour", Dimension: Flow, Factor: 1e-3 / 3600, Aliases: []string{"l/h"}},

	{Code: "kg/m3", Name: "kilogram per cubic metre", Dimension: MassConc, Factor: 1, Aliases: []string{"kg/m³"}},
	{Code: "ug/m3", Name: "microgram per cubic metre", Dimension: MassConc, Factor: 1e-9, Aliases: []string{"µg/m³", "μg/m³", "µg/m3", "μg/m3"}},
	{Code: "mg/m3", Name: "milligram per cubic metre", Dimension: MassConc, Factor: 1e-6, Aliases: []string{"mg/m³"}},

	{Code: "W/m2", Name: "watt per square metre", Dimension: Irradiance, Factor: 1, Aliases: []string{"W/m²"}},

	{Code: "deg", Name: "degree of angle", Dimension: Angle, Factor: 1, Aliases: []string{"°", "lat", "lon"}},

	{Code: "/s", Name: "per second", Dimension: Rate, Factor: 1, Aliases: []string{"1/s", "s-1"}},
	{Code: "/min", Name: "per minute", Dimension: Rate, Factor: 1.0 / 60, Aliases: []string{"1/min", "beat/min", "rpm"}},
	{Code: "/h", Name: "per hour", Dimension: Rate, Factor: 1.0 / 3600, Aliases: []string{"1/h"}},

	{Code: "bit", Name: "bit", Dimension: Data, Factor: 1},
	{Code: "By", Name: "byte", Dimension: Data, Factor: 8},

	{Code: "dB", Name: "decibel", Dimension: Level, Factor: 1},
	{Code: "dB[mW]", Name: "decibel-milliwatt (signal strength)", Dimension: PowerLevel, Factor: 1, Aliases: []string{"dBm"}},
	{Code: "[pH]", Name: "pH", Dimension: Acidity, Factor: 1, Aliases: []string{"pH"}},
}
