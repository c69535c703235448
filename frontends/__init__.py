"""What the web fronts (the console, the Open311 door) share as clients of the gateway: its calls
(`gateway`) and the timing of their own requests (`timing`)."""
