"""Work orders: tickets, their life cycle, their clocks and the working calendars they count in."""
