module cozeplus.test/sdkscenario

go 1.19

require (
	github.com/cozeplus/sdk-go v0.0.0
	gopkg.in/validator.v2 v2.0.1
)

// the SDK as codegen/sdks.py builds it, and the validator it vendors (no module proxy here)
replace github.com/cozeplus/sdk-go => ../../../build/sdks/go

replace gopkg.in/validator.v2 => ../../../build/sdks/go/third_party/validator.v2
