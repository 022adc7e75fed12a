package flite

import (
	"errors"
	"fmt"
)

// Config configures a Synthesizer. The zero value works.
type Config struct {
	// Voice names the Flite voice. Only "slt" (cmu_us_slt) is built in.
	// Default "slt".
	Voice string `yaml:"voice"`
	// Rate multiplies the speaking rate: 1.25 speaks a quarter faster, 0.8
	// slower. It scales Flite's duration_stretch by 1/Rate. Default 1; from
	// 0.25 to 4.
	Rate float64 `yaml:"rate"`
}

func (c Config) withDefaults() Config {
	if c.Voice == "" {
		c.Voice = "slt"
	}
	if c.Rate == 0 {
		c.Rate = 1
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Voice != "slt" {
		errs = append(errs, fmt.Errorf("flite: unknown voice %q (built in: slt)", c.Voice))
	}
	if !(c.Rate >= 0.25 && c.Rate <= 4) {
		errs = append(errs, fmt.Errorf("flite: Rate %v, want 0.25 to 4", c.Rate))
	}
	return errors.Join(errs...)
}
