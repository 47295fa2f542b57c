package collector

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kamailio-exporter/kamailio_exporter/binrpc"
)

var (
	uacLabels         = []string{"l_uuid", "r_domain"}
	uacRegisteredDesc = newDesc(namespace+"_uac_registration_registered",
		"Whether the uac module's remote registration is registered now (flag online).", prometheus.GaugeValue, uacLabels...)
	uacFlagDesc = newDesc(namespace+"_uac_registration_flag",
		"Flags of a uac remote registration, one series per flag: registered, in_progress (a REGISTER awaits its reply), auth_sent (a REGISTER with credentials awaits its reply), disabled, initialized (the first attempt was made).",
		prometheus.GaugeValue, "l_uuid", "r_domain", "flag")
	uacTimerDesc = newDesc(namespace+"_uac_registration_timer_seconds",
		"Seconds until a uac remote registration expires (registered) or is attempted again (not registered); negative when overdue.",
		prometheus.GaugeValue, uacLabels...)
	uacTimerFields = []field{{"diff_expires", uacTimerDesc}}

	// The flag bits of a registration (src/modules/uac/uac_reg.c).
	uacFlags = []struct {
		bit  int64
		name string
	}{
		{4, "registered"},  // UAC_REG_ONLINE
		{2, "in_progress"}, // UAC_REG_ONGOING
		{8, "auth_sent"},   // UAC_REG_AUTHSENT
		{1, "disabled"},    // UAC_REG_DISABLED
		{16, "initialized"},
	}
)

// uac.reg_dump: one struct per registration {l_uuid, l_username, l_domain,
// r_username, r_domain, realm, auth_username, auth_password, auth_ha1,
// auth_proxy, expires, flags, diff_expires, timer_expires, reg_init,
// reg_delay, contact_addr, socket}. Only l_uuid, r_domain, flags and
// diff_expires are read: the credentials (auth_password, auth_ha1) never
// leave the reply, not even in an error. uac without reg_db_url answers
// fault 500 "Not enabled": no registrations.
func updateUACRegDump(ctx context.Context, c Caller, _ *Settings, s *Sink) error {
	regs, err := c.CallEncoded(ctx, "uac.reg_dump")
	if binrpc.IsFault(err, 500, "Not enabled") {
		return nil
	}
	if err != nil {
		return err
	}
	p := newPicker()
	uuidSlot, domainSlot, flagsSlot := p.key("l_uuid"), p.key("r_domain"), p.key("flags")
	timers := p.fields(uacTimerFields)
	return eachStruct("uac.reg_dump", regs, func(r binrpc.Value) error {
		if err := p.pick(r); err != nil {
			return err
		}
		uuid, err := p.text(uuidSlot)
		if err != nil {
			return err
		}
		domain, err := p.text(domainSlot)
		if err != nil {
			return fmt.Errorf("%s: %w", uuid, err)
		}
		fv, ok := p.value(flagsSlot)
		if !ok || fv.Kind != binrpc.KindInt {
			return fmt.Errorf("%s: member \"flags\" missing or not an int", uuid)
		}
		flags := fv.Int
		s.Add(uacRegisteredDesc, b2f(flags&4 != 0), uuid, domain)
		for _, f := range uacFlags {
			s.Add(uacFlagDesc, b2f(flags&f.bit != 0), uuid, domain, f.name)
		}
		if err := addPicked(s, p, timers, uuid, domain); err != nil {
			return fmt.Errorf("%s: %w", uuid, err)
		}
		return nil
	})
}
