package spool

import "errors"

func diskFullChild() error { return errors.New("not yet") }
