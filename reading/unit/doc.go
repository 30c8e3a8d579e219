// Package unit is the table of units Tributary understands: their UCUM
// codes (https://ucum.org/ucum), the other spellings devices use for them,
// and exact conversions between units of one quantity. Readings store
// units as the UCUM codes of this table; the bridge normalises the units
// of foreign payloads (Tasmota's TempUnit, SenML's u and bu) through it
// and converts their values to the unit a mapping asks for.
//
// It imports nothing but the standard library, and holds no mutable
// state: every function is safe for concurrent use.
//
// # Units understood
//
//	quantity         UCUM code  also read as
//	temperature      K          kelvin, °K
//	                 Cel        C, °C, ℃, degC, deg C, celsius
//	                 [degF]     F, °F, ℉, degF, deg F, fahrenheit
//	ratio            1          / (SenML), count, {count}
//	                 %          %RH, % RH, %EL (SenML), percent
//	                 [ppm]      ppm, ppmv
//	                 [ppb]      ppb, ppbv
//	pressure         Pa
//	                 hPa        mbar, millibar
//	                 kPa, bar, atm
//	                 mm[Hg]     mmHg, torr
//	                 [in_i'Hg]  inHg
//	                 [psi]      psi
//	power            W, mW, kW
//	apparent power   VA, kVA
//	energy           J, kJ, Wh, kWh, MWh
//	voltage          V, mV, kV
//	current          A, mA
//	charge           A.h (Ah), mA.h (mAh)
//	frequency        Hz, kHz, MHz
//	illuminance      lx         lux
//	length           m, mm, cm, km, [in_i] (in), [ft_i] (ft), [mi_i] (mi)
//	time             s (sec, SenML EL), ms, min, h, d
//	speed            m/s, km/h (kph), [mi_i]/h (mph), [kn_i] (kn)
//	mass             kg, g
//	volume           m3, L (l)
//	volume flow      m3/s, m3/h, L/s, L/min, L/h
//	mass conc.       ug/m3 (µg/m³), mg/m3, kg/m3
//	irradiance       W/m2
//	angle            deg        °, lat, lon (SenML)
//	rate             /s (1/s), /min (1/min, beat/min, rpm), /h
//	information      bit, By
//	level            dB                     never converted
//	power level      dB[mW]     dBm         never converted
//	acidity          [pH]       pH
//
// Case matters, as in UCUM ("Pa", not "PA"). A quantity converts only to
// itself: °F and K to Cel (with their offsets), mmHg, inHg, kPa and mbar
// to hPa, Wh to kWh, mV to V, % to 1, and so on. Conversions between
// quantities (relative to absolute humidity, ppm to µg/m³, W over time to
// Wh) need more than a factor and are refused.
//
// The pressures of mercury are UCUM's: mm[Hg] is 133.322 Pa exactly and
// [in_i'Hg] 25.4 of those. SenML's "C" (coulomb) and "F" (farad) are read
// as degrees, as Tasmota and most devices mean them.
package unit
