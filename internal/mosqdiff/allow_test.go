package mosqdiff

// allowed lists the intended differences between Mosquitto 2.0.11 and
// mqtls: for each scenario, why we answer differently and what each broker
// answers (so that a change on either side shows).
var allowed = map[string]struct {
	why       string
	mosquitto []string
	mqtls     []string
}{}
